"""Consume with manual assignment (no group) from the beginning of each partition
to its end; prints one JSON document with every record.

usage: kafka_consume.py BOOTSTRAP TOPIC PARTITIONS
"""
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="rpkv-e2e-consumer",
                             group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest",
                             request_timeout_ms=10000, fetch_max_wait_ms=200)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    ends = consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    wanted = sum(ends.values())
    records = []
    deadline = time.time() + 20
    while len(records) < wanted and time.time() < deadline:
        for tp, batch in consumer.poll(timeout_ms=500).items():
            for m in batch:
                records.append({
                    "partition": m.partition, "offset": m.offset,
                    "key": m.key.decode() if m.key is not None else None,
                    "value": m.value.decode() if m.value is not None else None,
                    "headers": [[k, v.decode() if v is not None else None] for k, v in m.headers],
                    "timestamp": m.timestamp,
                })
    consumer.close()
    print(json.dumps({"end_offsets": {str(tp.partition): o for tp, o in ends.items()},
                      "records": records}))


if __name__ == "__main__":
    main()
