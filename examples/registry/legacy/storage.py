"""Plain helpers the legacy tasks share: a SQLite file and a YAML reader (no Celery here)."""

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import yaml

DB_PATH = os.environ.get("LEGACY_REGISTRY_DB", "legacy-registry.sqlite")
REPOS_DIR = Path(os.environ.get("LEGACY_REPOS_DIR", "/tmp/legacy-repos"))


def connect():
    conn = sqlite3.connect(DB_PATH)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS raw_yaml (id INTEGER PRIMARY KEY, content TEXT)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS collections (slug TEXT PRIMARY KEY, data TEXT)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS codebundles (collection TEXT, slug TEXT, data TEXT, "
        "status TEXT DEFAULT 'pending', PRIMARY KEY (collection, slug))"
    )
    return conn


def read_collections_yaml(path="collections.yaml"):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def clone(git_url, ref, slug):
    target = REPOS_DIR / slug
    if target.exists():
        subprocess.run(["git", "-C", str(target), "fetch", "origin", ref], check=True)
    else:
        # The old code passed git_url straight to git: "--upload-pack=..." got through.
        subprocess.run(["git", "clone", git_url, str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", ref], check=True)
    return str(target)


def bundle_dirs(checkout):
    root = Path(checkout) / "codebundles"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def save_bundle(conn, collection, slug, data):
    conn.execute(
        "INSERT OR REPLACE INTO codebundles (collection, slug, data, status) "
        "VALUES (?, ?, ?, 'pending')",
        (collection, slug, json.dumps(data)),
    )
