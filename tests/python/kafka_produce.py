"""Idempotent produce with kafka-python's default (murmur2) partitioner; prints
one JSON document with the partition and offset of every record.

usage: kafka_produce.py BOOTSTRAP TOPIC KEY=VALUE...
"""
import json
import sys

from kafka import KafkaProducer


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="rpkv-e2e-producer",
                             enable_idempotence=True, acks="all", request_timeout_ms=10000)
    futures = []
    for kv in sys.argv[3:]:
        key, value = kv.split("=", 1)
        futures.append((key, value, producer.send(topic, key=key.encode(), value=value.encode())))
    producer.flush()
    results = []
    for key, value, f in futures:
        md = f.get(timeout=10)
        results.append({"key": key, "value": value, "partition": md.partition, "offset": md.offset})
    manager = getattr(producer, "_transaction_manager", None)
    pid = getattr(getattr(manager, "producer_id_and_epoch", None), "producer_id", None)
    producer.close()
    print(json.dumps({"idempotent": bool(producer.config["enable_idempotence"]),
                      "producer_id": pid, "records": results}))


if __name__ == "__main__":
    main()
