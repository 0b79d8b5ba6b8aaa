"""Lake upkeep: compaction of small files, vacuum of removed files, stale staging folders."""
