"""Cluster mode in the configuration: it needs the Redis bus and a PostgreSQL database, and
each problem names its line."""

from __future__ import annotations

from pathlib import Path

from callcenter.config.loader import check_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callcenter.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cluster_mode_needs_redis_and_postgresql(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "storage:\n  url: sqlite+aiosqlite:///cc.db\nbus:\n  kind: memory\n"
        "cluster:\n  enabled: true\n  node_id: node-1\n",
    )
    config, problems = check_config(path)
    assert config is None
    text = "\n".join(str(p) for p in problems.items)
    assert f"{path}:4: bus.kind: cluster mode needs the Redis bus" in text
    assert f"{path}:2: storage.url: cluster mode needs a PostgreSQL storage url" in text


def test_a_bad_node_id_is_refused_where_it_is(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bus:\n  kind: redis\nstorage:\n  url: postgresql+asyncpg://db/cc\n"
        "cluster:\n  enabled: true\n  node_id: 'node 1!'\n  lease_ttl_s: 0.1\n",
    )
    _, problems = check_config(path)
    text = "\n".join(str(p) for p in problems.items)
    assert "node_id 'node 1!' may hold letters" in text and "cluster" in text
    # Both problems of the one section are listed, each where it is.
    assert f"{path}:8: cluster.lease_ttl_s: expected a number at least 0.3, found '0.1'" in text


def test_a_valid_cluster_config_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bus:\n  kind: redis\nstorage:\n  url: postgresql+asyncpg://db/cc\n"
        "cluster:\n  enabled: true\n  node_id: node-1\n",
    )
    config, problems = check_config(path)
    assert config is not None and not problems.items
    assert config.cluster.enabled and config.cluster.node_id == "node-1" and config.cluster.lease_ttl_s == 2.0
