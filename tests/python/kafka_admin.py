"""Admin calls with kafka-python against the dev broker; prints one JSON document.

usage: kafka_admin.py BOOTSTRAP create TOPIC PARTITIONS KEY=VALUE...
       kafka_admin.py BOOTSTRAP describe TOPIC
       kafka_admin.py BOOTSTRAP delete TOPIC
       kafka_admin.py BOOTSTRAP alter TOPIC KEY=VALUE...
"""
import json
import sys

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError


def main():
    bootstrap, op, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="rpkv-e2e-admin",
                             request_timeout_ms=10000)
    out = {"op": op, "topic": topic}
    try:
        if op == "create":
            partitions = int(sys.argv[4])
            configs = dict(kv.split("=", 1) for kv in sys.argv[5:])
            admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
            out["ok"] = True
        elif op == "describe":
            resp = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)], include_synonyms=True)
            configs = {}
            for r in resp:
                for res in r.resources:
                    # (error_code, error_message, type, name, configs)
                    out["error_code"] = res[0]
                    for entry in res[4]:
                        # (name, value, read_only, config_source, is_sensitive, synonyms, ...)
                        configs[entry[0]] = {"value": entry[1], "source": entry[3]}
            out["configs"] = configs
        elif op == "alter":
            configs = dict(kv.split("=", 1) for kv in sys.argv[4:])
            resp = admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
            responses = resp if isinstance(resp, list) else [resp]
            errors = [[r[0], r[1]] for x in responses for r in x.resources if r[0] != 0]
            out["ok"] = not errors
            if errors:
                out["error_code"], out["message"] = errors[0]
        elif op == "delete":
            admin.delete_topics([topic])
            out["ok"] = True
        else:
            raise SystemExit(f"unknown op {op}")
    except KafkaError as e:
        out["error"] = type(e).__name__
        out["message"] = str(e)
    finally:
        admin.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
