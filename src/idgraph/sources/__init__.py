"""Sources: manifests, readers and ingestion with provenance and quarantine."""

from idgraph.sources.ingest import (
    AfterIngestError,
    IngestSummary,
    ingest_manifest,
    ingest_paths,
)
from idgraph.sources.manifest import Manifest, ManifestError, load_manifest, parse_manifest
from idgraph.sources.readers import FileRejected

__all__ = [
    "AfterIngestError",
    "FileRejected",
    "IngestSummary",
    "Manifest",
    "ManifestError",
    "ingest_manifest",
    "ingest_paths",
    "load_manifest",
    "parse_manifest",
]
