"""Typed settings, read from the environment with the ``IDGRAPH_`` prefix.

Every setting is documented in ``docs/settings.md``; a test keeps that table complete.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """idgraph configuration. Pass an instance in; never mutate a global."""

    model_config = SettingsConfigDict(env_prefix="IDGRAPH_", extra="ignore")

    data_dir: Path = Field(
        default=Path("idgraph-data"),
        description="Folder holding the DuckDB store, search index and audit keys.",
    )
    db_name: str = Field(default="idgraph.duckdb", description="File name of the store.")
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL database of a server deployment (postgresql://user@host/db); "
        "unset: the embedded DuckDB file data_dir/db_name. Keys and the search index stay in "
        "data_dir, which every process of the deployment must share.",
    )
    database_pool_size: int = Field(
        default=4, ge=1, le=64,
        description="Most connections one process holds to the PostgreSQL database.",
    )
    database_auto_upgrade: bool = Field(
        default=True,
        description="Apply pending schema migrations when the store is opened (false: only "
        "`idgraph db upgrade` does).",
    )
    threads: int = Field(default=2, description="DuckDB worker threads.")
    memory_limit: str = Field(default="8GB", description="DuckDB memory limit.")
    ingest_chunk_rows: int = Field(
        default=20_000, description="Rows read and normalised per ingest chunk."
    )
    ingest_workers: int = Field(
        default=2, description="Worker processes normalising ingest chunks (0 or 1: none)."
    )
    spark_driver_memory: str = Field(
        default="2g", pattern=r"^[1-9][0-9]*[kmgt]$",
        description="Memory of the Spark driver for `resolve --engine spark` (in local mode "
        "the executors run inside it): 6g resolved 1M records.",
    )
    ingest_max_field_bytes: int = Field(
        default=8_388_608, ge=1024, le=2**31 - 1,
        description="Largest value (bytes) one field of a source file may hold; a row with a "
        "longer field is quarantined.",
    )
    csv_max_record_lines: int = Field(
        default=20, ge=1,
        description="Most physical lines one quoted CSV row may span; a longer row is malformed.",
    )
    ingest_max_invalid_share: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Share of a date column's values that may fail to parse before the batch "
        "stops (a manifest's max_invalid_share overrides it per field).",
    )
    ingest_min_values_for_share: int = Field(
        default=20, ge=1,
        description="Values a column must hold before its invalid share is judged (a column "
        "where every value fails is always judged); the default share is judged against at "
        "least this many.",
    )
    allow_outside_paths: bool = Field(
        default=False,
        description="Let a manifest's input.path point outside the manifest's folder.",
    )
    default_region: str = Field(
        default="US", description="Region assumed for phone numbers without a country code."
    )
    policy_dir: Path | None = Field(
        default=None,
        description="Folder of the deployment's own *.cedar policies (default: data_dir/policies).",
    )
    match_threshold: float = Field(
        default=0.9, description="Link probability above which two records are linked."
    )
    checkpoint_every_entries: int = Field(
        default=1000, description="Sign an audit checkpoint at least every N entries (0: off)."
    )
    checkpoint_every_seconds: float = Field(
        default=3600.0,
        description="Sign an audit checkpoint when this many seconds passed (0: off).",
    )
    audit_origin: str = Field(
        default="idgraph.local/audit",
        description="Origin line (and key name) of the audit log's signed checkpoints.",
    )
    audit_key_path: Path | None = Field(
        default=None,
        description="The audit signing key's PEM file (default: data_dir/audit_ed25519.pem).",
    )
    audit_key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase that encrypts the audit signing key's PEM."
    )
    audit_publication_dir: Path | None = Field(
        default=None,
        description="Append-only folder of published checkpoints (default: "
        "data_dir/audit-publication).",
    )

    api_max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024,
        description="Largest multipart upload (bytes) the API accepts; a larger body is "
        "refused with a 413 problem.",
    )
    api_max_json_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="Largest non-multipart request body (bytes) the API accepts (413 beyond).",
    )

    @property
    def db_path(self) -> Path:
        return self.data_dir / self.db_name

    @property
    def db_target(self) -> Path | str:
        """What :func:`idgraph.store.open_store` opens: the database URL, else the file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.db_path

    @property
    def policy_folder(self) -> Path:
        """The deployment's policy folder: ``policy_dir`` if set, else ``data_dir/policies``."""
        return self.policy_dir if self.policy_dir is not None else self.data_dir / "policies"


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment, with an explicit data dir taking precedence."""
    if data_dir is not None:
        return Settings(data_dir=data_dir)
    return Settings()
