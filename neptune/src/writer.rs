//! Writes one commit's worth of rows as Parquet data files: one open file per `day(event_time)` partition, fed
//! in chunks so memory stays bounded however large a commit grows. Files are invisible until the commit.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::spec::{
    DataFile, DataFileFormat, Literal, PartitionKey, PartitionSpec, SchemaRef, Struct, Transform,
};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::Error;
use crate::schema::{BronzeRow, to_record_batch};

/// Rows handed to the Parquet writer at a time, per partition. Until then each row is held as parsed (~0.9 KB
/// with its raw payload), so this bounds that copy: 4,096 rows hold ~4 MB where 16,384 held ~15.
const CHUNK_ROWS: usize = 4_096;

/// A data file never rolls over within one commit: the commit policy decides file sizes.
const TARGET_FILE_SIZE: usize = usize::MAX;

/// Rows per Parquet row group. The writer holds a row group in memory until it is complete, then hands it to the
/// S3 upload (parts of at least 5 MiB), so this bounds Neptune's memory per open file (~5 MB compressed at ~150
/// bytes a row, a few copies of it in flight) whatever the file size; it also lets readers skip row groups by
/// their statistics. At 10k vehicles 128k rows took RSS to 190 MiB with glibc's allocator and 213 with mimalloc;
/// 32k kept it at 110–147 MiB over three minutes, 149 MiB at most over ten (crates/packetpulse-stack/README.md,
/// change 5), and with 4,096-row chunks 124 MiB at most over ten (change 8).
const ROW_GROUP_ROWS: usize = 32 * 1024;

type Fanout = FanoutWriter<
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>,
>;

/// What a writer needs from the table; taken once per commit so a schema change is picked up at the next one.
#[derive(Clone)]
pub struct TableLayout {
    schema: SchemaRef,
    arrow_schema: ArrowSchemaRef,
    spec: PartitionSpec,
    table: Table,
}

impl TableLayout {
    /// The layout of `table`'s current schema and default spec, which must be `day(event_time)`.
    pub fn of(table: &Table) -> Result<Self, Error> {
        let metadata = table.metadata();
        let schema = metadata.current_schema().clone();
        let spec = metadata.default_partition_spec().as_ref().clone();
        let day_of_event_time = match spec.fields() {
            [field] => {
                field.transform == Transform::Day
                    && schema.field_by_id(field.source_id).map(|f| f.name.as_str())
                        == Some(packetpulse_model::columns::EVENT_TIME)
            }
            _ => false,
        };
        if !day_of_event_time {
            return Err(Error::Config(format!(
                "table {} is not partitioned by day(event_time) (spec {spec:?}); Neptune writes only that layout",
                table.identifier()
            )));
        }
        let arrow_schema =
            Arc::new(
                iceberg::arrow::schema_to_arrow_schema(&schema).map_err(|source| Error::Table {
                    table: table.identifier().to_string(),
                    source: Box::new(source),
                })?,
            );
        Ok(Self {
            schema,
            arrow_schema,
            spec,
            table: table.clone(),
        })
    }
}

/// The data files of one commit being written.
pub struct CommitWriter {
    layout: TableLayout,
    fanout: Fanout,
    pending: HashMap<i32, Vec<BronzeRow>>,
    /// Rows per `day(event_time)` partition, so per open file.
    day_rows: HashMap<i32, usize>,
    rows: usize,
}

impl CommitWriter {
    /// Starts the files of one commit, named as `packetpulse_lake::data_files` defines.
    pub fn new(layout: TableLayout, compression_level: i32) -> Result<Self, Error> {
        Self::named(
            layout,
            compression_level,
            packetpulse_lake::data_files::new_commit_prefix(),
            None,
        )
    }

    /// Starts files named `<prefix>-<n>[-<suffix>].parquet`.
    pub fn named(
        layout: TableLayout,
        compression_level: i32,
        prefix: String,
        suffix: Option<String>,
    ) -> Result<Self, Error> {
        let compression = ZstdLevel::try_new(compression_level)
            .map_err(|error| Error::Config(format!("zstd level {compression_level}: {error}")))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(compression))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let table = &layout.table;
        let location = DefaultLocationGenerator::new(table.metadata()).map_err(|source| Error::Table {
            table: table.identifier().to_string(),
            source: Box::new(source),
        })?;
        let names = DefaultFileNameGenerator::new(prefix, suffix, DataFileFormat::Parquet);
        let parquet = ParquetWriterBuilder::new(properties, layout.schema.clone());
        let rolling = RollingFileWriterBuilder::new(
            parquet,
            TARGET_FILE_SIZE,
            table.file_io().clone(),
            location,
            names,
        );
        Ok(Self {
            fanout: FanoutWriter::new(DataFileWriterBuilder::new(rolling)),
            layout,
            pending: HashMap::new(),
            day_rows: HashMap::new(),
            rows: 0,
        })
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows in the largest open file (the busiest day partition).
    pub fn largest_file_rows(&self) -> usize {
        self.day_rows.values().copied().max().unwrap_or(0)
    }

    /// Adds a row; writes its partition's chunk when full.
    pub async fn push(&mut self, row: BronzeRow) -> Result<(), Error> {
        let day = row.event_day();
        let chunk = self.pending.entry(day).or_default();
        chunk.push(row);
        self.rows += 1;
        *self.day_rows.entry(day).or_default() += 1;
        if chunk.len() >= CHUNK_ROWS {
            let chunk = std::mem::take(chunk);
            self.write_chunk(day, chunk).await?;
        }
        Ok(())
    }

    async fn write_chunk(&mut self, day: i32, chunk: Vec<BronzeRow>) -> Result<(), Error> {
        let rows: Vec<&BronzeRow> = chunk.iter().collect();
        let batch = to_record_batch(&rows, &self.layout.arrow_schema).map_err(Error::Arrow)?;
        self.write_to_day(day, batch).await
    }

    /// Writes rows read from the table (by compaction) into `day`'s file. Their columns must be the table's.
    pub async fn write_batch(&mut self, day: i32, batch: RecordBatch) -> Result<(), Error> {
        let rows = batch.num_rows();
        // The reader's schema may differ from the writer's in field metadata only.
        let batch = RecordBatch::try_new(self.layout.arrow_schema.clone(), batch.columns().to_vec())
            .map_err(Error::Arrow)?;
        self.rows += rows;
        *self.day_rows.entry(day).or_default() += rows;
        self.write_to_day(day, batch).await
    }

    async fn write_to_day(&mut self, day: i32, batch: RecordBatch) -> Result<(), Error> {
        let key = PartitionKey::new(
            self.layout.spec.clone(),
            self.layout.schema.clone(),
            Struct::from_iter([Some(Literal::date(day))]),
        );
        self.fanout
            .write(key, batch)
            .await
            .map_err(|error| Error::Write(Box::new(error)))
    }

    /// Writes what is left and closes every file: the data files to commit.
    pub async fn finish(mut self) -> Result<Vec<DataFile>, Error> {
        let pending = std::mem::take(&mut self.pending);
        for (day, chunk) in pending {
            if !chunk.is_empty() {
                self.write_chunk(day, chunk).await?;
            }
        }
        self.fanout
            .close()
            .await
            .map_err(|error| Error::Write(Box::new(error)))
    }
}
