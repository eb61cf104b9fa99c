"""kafka-python consumer-group helpers for tests/tests/kafka_groups.rs.

  kafka_group.py member ADDR TOPIC GROUP SESSION_MS
      Joins GROUP and polls until killed; prints {"assignment": [partitions]}
      each time its assignment changes (one JSON document per line).
  kafka_group.py consume ADDR TOPIC GROUP COUNT
      Joins GROUP, reads COUNT records (from the committed offset, else the
      beginning), commits, leaves; prints {"records": [[partition, offset, value]...]}.
  kafka_group.py standalone ADDR TOPIC GROUP COUNT
      Without joining (assign(), generation -1): reads COUNT records from
      the committed offsets, else the beginning, and commits.
  kafka_group.py admin ADDR GROUP
      With KafkaAdminClient: prints {"listed": [[group, protocol_type]...],
      "state": ..., "members": N, "offsets": {"topic/partition": offset},
      "deleted": error name or null} (the group is deleted last).
  kafka_group.py committed ADDR TOPIC GROUP
      Prints {"committed": {partition: offset or null}} without joining.
"""

import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def out(doc):
    print(json.dumps(doc), flush=True)


def consumer(addr, group, **kw):
    return KafkaConsumer(
        bootstrap_servers=addr,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        client_id="kafka-group-test",
        **kw,
    )


def member(addr, topic, group, session_ms):
    session_ms = int(session_ms)
    c = consumer(
        addr,
        group,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(session_ms // 6, 100),
        request_timeout_ms=session_ms + 5000,
        max_poll_interval_ms=max(session_ms, 10000),
    )
    c.subscribe([topic])
    last = None
    while True:
        c.poll(timeout_ms=100)
        now = sorted(tp.partition for tp in c.assignment())
        if now != last:
            out({"assignment": now})
            last = now


def consume(addr, topic, group, count):
    count = int(count)
    c = consumer(addr, group)
    c.subscribe([topic])
    got = []
    deadline = time.time() + 60
    while len(got) < count and time.time() < deadline:
        for records in c.poll(timeout_ms=200, max_records=count - len(got)).values():
            for r in records:
                got.append([r.partition, r.offset, r.value.decode()])
    c.commit()
    c.close()
    out({"records": got})


def standalone(addr, topic, group, count):
    count = int(count)
    c = consumer(addr, group)
    parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
    c.assign(parts)
    got = []
    deadline = time.time() + 60
    while len(got) < count and time.time() < deadline:
        for records in c.poll(timeout_ms=200, max_records=count - len(got)).values():
            for r in records:
                got.append([r.partition, r.offset, r.value.decode()])
    c.commit()
    c.close()
    out({"records": got})


def admin(addr, group):
    from kafka import KafkaAdminClient

    a = KafkaAdminClient(bootstrap_servers=addr, client_id="kafka-group-test-admin")
    listed = sorted([g[0], g[1]] for g in a.list_consumer_groups())
    described = a.describe_consumer_groups([group])[0]
    offsets = {
        "%s/%d" % (tp.topic, tp.partition): om.offset
        for tp, om in a.list_consumer_group_offsets(group).items()
    }
    deleted = a.delete_consumer_groups([group])[0][1]
    a.close()
    out({
        "listed": listed,
        "state": described.state,
        "members": len(described.members),
        "offsets": offsets,
        "deleted": None if deleted.errno == 0 else type(deleted).__name__,
    })


def committed(addr, topic, group):
    c = consumer(addr, group)
    parts = c.partitions_for_topic(topic) or set()
    res = {p: c.committed(TopicPartition(topic, p)) for p in sorted(parts)}
    c.close()
    out({"committed": res})


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"member": member, "consume": consume, "standalone": standalone,
     "admin": admin, "committed": committed}[cmd](*args)
