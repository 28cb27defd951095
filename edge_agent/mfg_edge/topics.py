"""MQTT topic filters: matching a topic, comparing filters, and assigning topics to shards."""

from __future__ import annotations


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter semantics: + one level, # the rest (and the parent level)."""
    pattern_parts = pattern.split("/")
    topic_parts = topic.split("/")
    for index, part in enumerate(pattern_parts):
        if part == "#":
            return True
        if index >= len(topic_parts):
            return False
        if part != "+" and part != topic_parts[index]:
            return False
    return len(pattern_parts) == len(topic_parts)


def filter_covers(outer: str, inner: str) -> bool:
    """Does every topic that matches filter `inner` also match filter `outer`?"""
    outer_parts, inner_parts = outer.split("/"), inner.split("/")
    for index, part in enumerate(outer_parts):
        if part == "#":
            return True
        if index >= len(inner_parts):
            return False
        other = inner_parts[index]
        if other == "#" or (other == "+" and part != "+") or (part not in ("+", other)):
            return False
    return len(outer_parts) == len(inner_parts)


def filters_overlap(first: str, second: str) -> bool:
    """Is there a topic that matches both filters?"""
    first_parts, second_parts = first.split("/"), second.split("/")
    for index in range(max(len(first_parts), len(second_parts))):
        a = first_parts[index] if index < len(first_parts) else None
        b = second_parts[index] if index < len(second_parts) else None
        if a == "#" or b == "#":
            return True
        if a is None or b is None:
            return False
        if "+" not in (a, b) and a != b:
            return False
    return True


def assign_shards(
    shard_filters: list[list[str]], topics: list[str]
) -> tuple[list[list[str]], list[str]]:
    """Put each rule topic in the one shard whose filters cover it.

    Returns (topics per shard, problems). A topic no shard covers, or that more than one covers,
    is a problem; so are two topics in different shards that overlap (a message would reach two
    connections). Topics no shard covers go to an extra last shard, so nothing is unsubscribed.
    """
    assigned: list[list[str]] = [[] for _ in shard_filters]
    problems = []
    leftovers = []
    for topic in topics:
        owners = [
            index
            for index, filters in enumerate(shard_filters)
            if any(filter_covers(f, topic) for f in filters)
        ]
        if not owners:
            problems.append(f"MQTT topic {topic!r} is covered by no shard")
            leftovers.append(topic)
            continue
        if len(owners) > 1:
            problems.append(f"MQTT topic {topic!r} is covered by shards {owners}: exactly one")
        assigned[owners[0]].append(topic)
    if leftovers:
        assigned.append(leftovers)
    for index, group in enumerate(assigned):
        for other_index in range(index + 1, len(assigned)):
            for topic in group:
                for other in assigned[other_index]:
                    if filters_overlap(topic, other):
                        problems.append(
                            f"MQTT topics {topic!r} (shard {index}) and {other!r} (shard "
                            f"{other_index}) overlap: one message would reach two connections"
                        )
    return assigned, problems


# ------------------------------------------------------------------------------ child side
