"""kafka-python against a SASL (and optionally TLS) Kafka listener; prints one
JSON document.

usage: kafka_sasl.py MODE BOOTSTRAP PROTOCOL MECHANISM USER PASSWORD CAFILE TOPIC [N]
  MODE roundtrip: produce N records k<i>=v<i> to partition 0, consume them back
                  from the beginning, list the topics
  MODE refused:   try to produce one record; report the error (must fail)
  MODE end:       the end offset of partition 0
PROTOCOL is SASL_PLAINTEXT or SASL_SSL; CAFILE is "-" without TLS; USER "-"
means no credentials at all (sasl_mechanism unset).
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def config(protocol, mechanism, user, password, cafile):
    if user == "-":
        # No credentials: the same transport without SASL.
        protocol = "SSL" if protocol == "SASL_SSL" else "PLAINTEXT"
    cfg = {"security_protocol": protocol, "request_timeout_ms": 10000,
           "api_version_auto_timeout_ms": 10000}
    if user != "-":
        cfg.update(sasl_mechanism=mechanism, sasl_plain_username=user,
                   sasl_plain_password=password)
    if cafile != "-":
        cfg.update(ssl_cafile=cafile, ssl_check_hostname=True)
    return cfg


def main():
    mode, bootstrap, protocol, mechanism, user, password, cafile, topic = sys.argv[1:9]
    cfg = config(protocol, mechanism, user, password, cafile)
    if mode == "roundtrip":
        n = int(sys.argv[9])
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **cfg)
        futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0)
                   for i in range(n)]
        producer.flush()
        offsets = [f.get(timeout=10).offset for f in futures]
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                 consumer_timeout_ms=10000, **cfg)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        consumed = []
        for msg in consumer:
            consumed.append([msg.key.decode(), msg.value.decode()])
            if len(consumed) >= offsets[-1] + 1:
                break
        topics = sorted(consumer.topics())
        consumer.close()
        print(json.dumps({"offsets": offsets, "consumed": consumed, "topics": topics}))
    elif mode == "refused":
        try:
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_block_ms=5000,
                                     **cfg)
            producer.send(topic, key=b"bad", value=b"bad", partition=0).get(timeout=5)
            print(json.dumps({"error": None}))
        except Exception as e:  # what the client raises is the result
            print(json.dumps({"error": type(e).__name__, "message": str(e)}))
    elif mode == "end":
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, **cfg)
        tp = TopicPartition(topic, 0)
        end = consumer.end_offsets([tp])[tp]
        consumer.close()
        print(json.dumps({"end": end}))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
