"""The bronze table through pyiceberg, an engine that shares no code with Neptune, on Neptune's SQL catalog.

Actions:
  report          (default) print, as JSON, the row count, distinct event ids, a SHA-256 of the sorted event ids,
                  the snapshot count and the partition spec; with --event-ids-out, also write every row's event id
                  to a file, one per line (the chaos run reconciles them)
  compact         act as another engine's maintenance would: rewrite every row in one overwrite snapshot (no
                  Kafka offsets in its summary), then expire every older snapshot
  promote         widen column --column from int to long (a legal schema evolution)
  forget-offsets  remove Neptune's offsets table property
"""

import argparse
import hashlib
import json
from datetime import datetime, timezone

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.types import LongType

OFFSETS_PROPERTY = "packetpulse.neptune.kafka-offsets"


def report(table, event_ids_out: str) -> None:
    ids = table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    if event_ids_out:
        with open(event_ids_out, "w", encoding="utf-8") as out:
            out.writelines(f"{i}\n" for i in ids)
    digest = hashlib.sha256("".join(f"{i}\n" for i in sorted(ids)).encode()).hexdigest()
    schema = table.schema()
    spec = [
        {"name": field.name, "transform": str(field.transform), "source": schema.find_column_name(field.source_id)}
        for field in table.spec().fields
    ]
    print(
        json.dumps(
            {
                "rows": len(ids),
                "distinct_event_ids": len(set(ids)),
                "event_ids_sha256": digest,
                "snapshots": len(table.snapshots()),
                "partition_spec": spec,
            }
        )
    )


def compact(table) -> None:
    table.overwrite(table.scan().to_arrow())
    table.maintenance.expire_snapshots().older_than(datetime.now(timezone.utc)).commit()
    table.refresh()
    print(json.dumps({"snapshots": len(table.snapshots())}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", default="report", choices=["report", "compact", "promote", "forget-offsets"])
    parser.add_argument("--catalog-name", required=True)
    parser.add_argument("--sqlite", required=True, help="path of the SQLite catalog file")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--table", required=True, help="namespace.table")
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument("--s3-access-key-id", default="")
    parser.add_argument("--s3-secret-access-key", default="")
    parser.add_argument("--event-ids-out", default="", help="report: file to write every row's event id to")
    parser.add_argument("--column", default="", help="promote: the int column to widen to long")
    args = parser.parse_args()

    catalog = SqlCatalog(
        args.catalog_name,
        uri=f"sqlite:///{args.sqlite}",
        warehouse=args.warehouse,
        **{
            "s3.endpoint": args.s3_endpoint,
            "s3.region": args.s3_region,
            "s3.access-key-id": args.s3_access_key_id,
            "s3.secret-access-key": args.s3_secret_access_key,
            "s3.path-style-access": "true",
        },
    )
    table = catalog.load_table(args.table)
    if args.action == "report":
        report(table, args.event_ids_out)
    elif args.action == "compact":
        compact(table)
    elif args.action == "promote":
        with table.update_schema() as update:
            update.update_column(args.column, LongType())
    else:
        with table.transaction() as transaction:
            transaction.remove_properties(OFFSETS_PROPERTY)


if __name__ == "__main__":
    main()
