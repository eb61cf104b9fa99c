"""Schemathesis hooks for the dev broker's OpenAPI document (assets/openapi.yaml).

- Path parameters: most generated cases are steered to topics and partitions
  that exist (`kv` with 2 partitions, `plain` without kvstore), so the bodies
  reach the handlers instead of all stopping at "unknown topic"; the rest keep
  the names hypothesis generates (odd, long, unicode, `..`).
- Consumer API paths: most cases go to the instance `fuzz` of group `fuzz`
  (created by the test before the run, subscribed to `plain`), except for the
  DELETE of the instance itself, which would leave later cases only 404s.
- `no_server_error_except_no_leader` replaces `not_a_server_error`: any 5xx
  fails, except the documented 503 that Redpanda answers for an unknown topic
  or partition ("no leader"), which the message must say.
"""
import json
import re

import schemathesis
from hypothesis import strategies as st

# (topic, partition) choices; None keeps what hypothesis generated.
STEER = [("kv", 0), ("kv", 1), ("kv", 0), ("plain", 0), ("kv", None), (None, None)]


TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# (group, instance) choices for the consumer API; None keeps the generated ones.
CONSUMER_STEER = [("fuzz", "fuzz"), ("fuzz", "fuzz"), ("fuzz", "fuzz"), None]


def _steer_consumer(params, choice):
    out = dict(params)
    if choice is None:
        return out
    group, instance = choice
    if isinstance(out.get("group"), str) and TOPIC.match(out["group"]):
        out["group"] = group
    if isinstance(out.get("instance"), str) and TOPIC.match(out["instance"]):
        out["instance"] = instance
    return out


def _steer(params, choice):
    # Only values that are valid per the document are replaced, so the invalid
    # ones generated for negative testing stay invalid.
    topic, partition = choice
    out = dict(params)
    if topic is not None and isinstance(out.get("topic"), str) and TOPIC.match(out["topic"]):
        out["topic"] = topic
    if partition is not None and _is_int(out.get("partition")) and -(2**31) <= out["partition"] < 2**31:
        out["partition"] = partition
    return out


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    op = context.operation
    deletes_instance = op.method.upper() == "DELETE" and op.path.endswith("/instances/{instance}")

    def steer(params):
        if not params:
            return st.just(params)
        if "instance" in params:
            if deletes_instance:
                return st.just(params)
            return st.sampled_from(CONSUMER_STEER).map(lambda c: _steer_consumer(params, c))
        return st.sampled_from(STEER).map(lambda c: _steer(params, c))

    return strategy.flatmap(steer)


@schemathesis.check
def no_server_error_except_no_leader(ctx, response, case):
    status = response.status_code
    if status < 500:
        return None
    if status == 503:
        try:
            message = json.loads(response.text).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        if "does not exist" in message or "has no partition" in message:
            return None
    raise AssertionError(f"server error {status}: {response.text[:300]}")


@schemathesis.hook
def map_query(context, query):
    # Long polls wait up to `timeout` ms (the broker caps it at 30 s); keep runs short.
    # Only valid (non-negative integer) values are shortened; invalid ones stay.
    if query and _is_int(query.get("timeout")) and query["timeout"] >= 0:
        query["timeout"] = query["timeout"] % 100
    return query
