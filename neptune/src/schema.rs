//! The bronze table's shape: Iceberg schema, partition spec `day(event_time)`, table properties, and the
//! conversion of buffered rows into Arrow record batches in whatever column order the table's current schema has.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, TimestampMicrosecondArray, new_null_array,
};
use arrow_schema::{DataType, SchemaRef};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Transform, Type, UnboundPartitionSpec};
use packetpulse_model::PublishedEvent;
use packetpulse_model::columns::{
    EVENT_ID, EVENT_TIME, KAFKA_OFFSET, KAFKA_PARTITION, RAW_PAYLOAD, RECEIVED_AT,
};

/// Name of the partition field, `day(event_time)`.
pub const EVENT_DAY: &str = "event_day";

/// One Kafka message that holds a valid event: the event, its payload as read, and where it was read.
#[derive(Debug, Clone)]
pub struct BronzeRow {
    /// The parsed event.
    pub event: PublishedEvent,
    /// The message payload exactly as it was in Kafka.
    pub raw_payload: String,
    /// Kafka partition.
    pub kafka_partition: i32,
    /// Kafka offset.
    pub kafka_offset: i64,
}

impl BronzeRow {
    /// Days since 1970-01-01 of the event time: the value of the partition field.
    pub fn event_day(&self) -> i32 {
        let days = self.event.event.timestamp.timestamp().div_euclid(86_400);
        i32::try_from(days).unwrap_or(i32::MAX)
    }
}

fn string(id: i32, name: &str) -> NestedField {
    NestedField::required(id, name, Type::Primitive(PrimitiveType::String))
}

fn double(id: i32, name: &str) -> NestedField {
    NestedField::required(id, name, Type::Primitive(PrimitiveType::Double))
}

/// The bronze schema. Event content columns keep their wire names; see `packetpulse_model::columns` for the rest.
pub fn table_schema() -> iceberg::Result<Schema> {
    let timestamptz = Type::Primitive(PrimitiveType::Timestamptz);
    let fields = vec![
        string(1, EVENT_ID),
        string(2, "device_id"),
        string(3, "vehicle_id"),
        string(4, "session_id"),
        string(5, "order_id"),
        string(6, "status"),
        NestedField::required(7, EVENT_TIME, timestamptz.clone()),
        double(8, "start_lat"),
        double(9, "start_lon"),
        double(10, "end_lat"),
        double(11, "end_lon"),
        double(12, "current_lat"),
        double(13, "current_lon"),
        NestedField::optional(14, "seq", Type::Primitive(PrimitiveType::Long)),
        NestedField::optional(15, "speed_kmh", Type::Primitive(PrimitiveType::Double)),
        NestedField::optional(16, "heading_deg", Type::Primitive(PrimitiveType::Double)),
        NestedField::optional(17, "route_name", Type::Primitive(PrimitiveType::String)),
        NestedField::optional(18, "waypoint_count", Type::Primitive(PrimitiveType::Int)),
        NestedField::required(19, RECEIVED_AT, timestamptz),
        string(20, RAW_PAYLOAD),
        NestedField::required(21, KAFKA_PARTITION, Type::Primitive(PrimitiveType::Int)),
        NestedField::required(22, KAFKA_OFFSET, Type::Primitive(PrimitiveType::Long)),
    ];
    Schema::builder()
        .with_schema_id(0)
        .with_fields(fields.into_iter().map(Arc::new))
        .build()
}

/// `day(event_time)`.
pub fn partition_spec() -> iceberg::Result<UnboundPartitionSpec> {
    Ok(UnboundPartitionSpec::builder()
        .add_partition_field(7, EVENT_DAY, Transform::Day)?
        .build())
}

/// Properties the table is created with. iceberg-rust takes compression from the writer, not from here; these
/// tell other engines (Trino's `optimize`, Spark) to write the same way.
pub fn table_properties() -> HashMap<String, String> {
    HashMap::from([
        ("write.format.default".to_owned(), "parquet".to_owned()),
        ("write.parquet.compression-codec".to_owned(), "zstd".to_owned()),
        (
            "write.metadata.delete-after-commit.enabled".to_owned(),
            "true".to_owned(),
        ),
        (
            "write.metadata.previous-versions-max".to_owned(),
            "100".to_owned(),
        ),
    ])
}

fn micros(time: &chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_micros()
}

/// Builds the arrays of one column, or `None` for a column Neptune does not know (an optional column added by
/// schema evolution), which is then written as nulls.
fn column(name: &str, data_type: &DataType, rows: &[&BronzeRow]) -> Option<ArrayRef> {
    fn event(row: &BronzeRow) -> &packetpulse_model::DeliveryEvent {
        &row.event.event
    }
    let array = match name {
        EVENT_ID => event_ids(rows),
        "device_id" => strings(rows, |row| &event(row).device_id),
        "vehicle_id" => strings(rows, |row| &event(row).vehicle_id),
        "session_id" => strings(rows, |row| &event(row).session_id),
        "order_id" => strings(rows, |row| &event(row).order_id),
        "status" => strings(rows, |row| event(row).status.as_str()),
        EVENT_TIME => timestamps(rows, data_type, |row| micros(&event(row).timestamp)),
        "start_lat" => doubles(rows, |row| Some(event(row).start_lat)),
        "start_lon" => doubles(rows, |row| Some(event(row).start_lon)),
        "end_lat" => doubles(rows, |row| Some(event(row).end_lat)),
        "end_lon" => doubles(rows, |row| Some(event(row).end_lon)),
        "current_lat" => doubles(rows, |row| Some(event(row).current_lat)),
        "current_lon" => doubles(rows, |row| Some(event(row).current_lon)),
        "seq" => longs(rows, |row| {
            event(row).seq.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX))
        }),
        "speed_kmh" => doubles(rows, |row| event(row).speed_kmh),
        "heading_deg" => doubles(rows, |row| event(row).heading_deg),
        "route_name" => optional_strings(rows, |row| event(row).route_name.as_deref()),
        "waypoint_count" => ints(rows, data_type, |row| {
            event(row)
                .waypoint_count
                .map(|count| i32::try_from(count).unwrap_or(i32::MAX))
        }),
        RECEIVED_AT => timestamps(rows, data_type, |row| micros(&row.event.received_at)),
        RAW_PAYLOAD => strings(rows, |row| &row.raw_payload),
        KAFKA_PARTITION => ints(rows, data_type, |row| Some(row.kafka_partition)),
        KAFKA_OFFSET => longs(rows, |row| Some(row.kafka_offset)),
        _ => return None,
    };
    Some(array)
}

fn event_ids(rows: &[&BronzeRow]) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(rows.len(), rows.len() * 36);
    let mut buffer = uuid::Uuid::encode_buffer();
    for row in rows {
        builder.append_value(row.event.event_id.hyphenated().encode_lower(&mut buffer));
    }
    Arc::new(builder.finish())
}

fn strings<'a>(rows: &[&'a BronzeRow], value: impl Fn(&'a BronzeRow) -> &'a str) -> ArrayRef {
    let bytes = rows.iter().map(|row| value(row).len()).sum();
    let mut builder = StringBuilder::with_capacity(rows.len(), bytes);
    for row in rows {
        builder.append_value(value(row));
    }
    Arc::new(builder.finish())
}

fn optional_strings<'a>(
    rows: &[&'a BronzeRow],
    value: impl Fn(&'a BronzeRow) -> Option<&'a str>,
) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

fn doubles(rows: &[&BronzeRow], value: impl Fn(&BronzeRow) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(|row| value(row)).collect::<Float64Array>())
}

/// An `int` column, or a `long` one where another engine promoted it (a legal Iceberg evolution).
fn ints(rows: &[&BronzeRow], data_type: &DataType, value: impl Fn(&BronzeRow) -> Option<i32>) -> ArrayRef {
    match data_type {
        DataType::Int64 => longs(rows, |row| value(row).map(i64::from)),
        _ => Arc::new(rows.iter().map(|row| value(row)).collect::<Int32Array>()),
    }
}

fn longs(rows: &[&BronzeRow], value: impl Fn(&BronzeRow) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(|row| value(row)).collect::<Int64Array>())
}

fn timestamps(rows: &[&BronzeRow], data_type: &DataType, value: impl Fn(&BronzeRow) -> i64) -> ArrayRef {
    let array = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|row| value(row)));
    let timezone = match data_type {
        DataType::Timestamp(_, timezone) => timezone.clone(),
        _ => None,
    };
    Arc::new(array.with_timezone_opt(timezone))
}

/// The rows as one record batch with exactly `schema`'s columns (the table's current schema, as Arrow with field
/// ids). Unknown optional columns are null; an unknown required column is an error.
pub fn to_record_batch(
    rows: &[&BronzeRow],
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match column(field.name(), field.data_type(), rows) {
            Some(array) => Ok(array),
            None if field.is_nullable() => Ok(new_null_array(field.data_type(), rows.len())),
            None => Err(arrow_schema::ArrowError::SchemaError(format!(
                "required column {:?} is not known to this Neptune version",
                field.name()
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn schema_has_every_column_name_once_and_partition_on_event_time() {
        let schema = table_schema().unwrap();
        let names: Vec<_> = schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        let spec = partition_spec().unwrap();
        assert_eq!(
            spec.fields()[0].source_id,
            schema.field_by_name(EVENT_TIME).unwrap().id
        );
    }

    #[test]
    fn int_columns_promoted_to_long_by_another_engine_are_written_as_long() {
        let row = BronzeRow {
            event: packetpulse_model::testing::published(packetpulse_model::testing::event()),
            raw_payload: String::new(),
            kafka_partition: 4,
            kafka_offset: 9,
        };
        for name in ["waypoint_count", KAFKA_PARTITION] {
            let array = column(name, &DataType::Int64, &[&row]).unwrap();
            assert_eq!(array.data_type(), &DataType::Int64, "{name}");
            assert_eq!(
                column(name, &DataType::Int32, &[&row]).unwrap().data_type(),
                &DataType::Int32
            );
        }
    }

    #[test]
    fn every_schema_column_has_a_builder() {
        let schema = Arc::new(iceberg::arrow::schema_to_arrow_schema(&table_schema().unwrap()).unwrap());
        for field in schema.fields() {
            assert!(
                column(field.name(), field.data_type(), &[]).is_some(),
                "{}",
                field.name()
            );
        }
    }
}
