"""Independent reader of the bronze table: opens Neptune's SQL catalog with pyiceberg and prints, as JSON, the row
count, distinct event ids, a SHA-256 of the sorted event ids, the snapshot count and the partition spec."""

import argparse
import hashlib
import json

from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog-name", required=True)
    parser.add_argument("--sqlite", required=True, help="path of the SQLite catalog file")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--table", required=True, help="namespace.table")
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument("--s3-access-key-id", default="")
    parser.add_argument("--s3-secret-access-key", default="")
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
    ids = table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
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


if __name__ == "__main__":
    main()
