"""Where kafka-python's default partitioner puts keys, for rpkv's parity test.

usage:
  rpkv_partitioner.py produce BOOTSTRAP TOPIC KEY...   produce KEY=value-of-KEY with
      kafka-python's producer; print {"KEY": partition, ...} from the broker's acks
  rpkv_partitioner.py compute PARTITIONS KEY...        print {"KEY": partition, ...}
      from kafka-python's DefaultPartitioner, without a broker
"""
import json
import sys


def produce(bootstrap, topic, keys):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="rpkv-e2e-partitioner",
                             acks="all", request_timeout_ms=10000)
    futures = [(k, producer.send(topic, key=k.encode(), value=("value-of-" + k).encode()))
               for k in keys]
    producer.flush()
    out = {k: f.get(timeout=10).partition for k, f in futures}
    producer.close()
    return out


def compute(partitions, keys):
    from kafka.partitioner.default import DefaultPartitioner

    p = DefaultPartitioner()
    all_partitions = list(range(partitions))
    return {k: p(k.encode(), all_partitions, all_partitions) for k in keys}


def main():
    mode = sys.argv[1]
    if mode == "produce":
        result = produce(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif mode == "compute":
        result = compute(int(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
