//! The sink's destination: the bronze namespace and table, created with Neptune's schema and partition spec when
//! they are missing (the catalog itself is opened by `packetpulse_lake`).

use std::collections::HashMap;

use iceberg::table::Table;
use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};

use crate::Error;
use crate::config::Config;
use crate::schema;

/// Loads the table, creating the namespace and the table with the bronze schema and partition spec if missing.
pub async fn ensure_table(catalog: &dyn Catalog, config: &Config) -> Result<Table, Error> {
    let namespace = NamespaceIdent::new(config.lake.namespace.clone());
    let ident = TableIdent::new(namespace.clone(), config.lake.table.clone());
    let context = |source: iceberg::Error| Error::Table {
        table: ident.to_string(),
        source: Box::new(source),
    };
    if !catalog.namespace_exists(&namespace).await.map_err(context)? {
        match catalog.create_namespace(&namespace, HashMap::new()).await {
            Ok(_) => tracing::info!(namespace = %config.lake.namespace, "created namespace"),
            // Another Neptune (or Trino) may have created it in between.
            Err(_) if catalog.namespace_exists(&namespace).await.map_err(context)? => {}
            Err(error) => return Err(context(error)),
        }
    }
    if catalog.table_exists(&ident).await.map_err(context)? {
        return catalog.load_table(&ident).await.map_err(context);
    }
    let creation = TableCreation::builder()
        .name(config.lake.table.clone())
        .schema(schema::table_schema().map_err(context)?)
        .partition_spec(schema::partition_spec().map_err(context)?)
        .properties(schema::table_properties())
        .build();
    match catalog.create_table(&namespace, creation).await {
        Ok(table) => {
            tracing::info!(table = %ident, location = table.metadata().location(), "created table");
            Ok(table)
        }
        Err(_) if catalog.table_exists(&ident).await.map_err(context)? => {
            catalog.load_table(&ident).await.map_err(context)
        }
        Err(error) => Err(context(error)),
    }
}
