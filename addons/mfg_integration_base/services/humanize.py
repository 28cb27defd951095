"""Durations in the words a planner reads at a glance."""


def age(seconds):
    """'45 s', '12 min', '3 h 05', '2 d 4 h': an age a planner reads at a glance."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def duration(seconds):
    """'350 ms', '4.2 s', '12 min', '3.5 h': a short duration, with its precision."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
