//! The tansu broker process with its sqlite storage engine.
//!
//! Not the memory engine: it loses or repeats messages when a consumer resumes mid-batch (docs/ARCHITECTURE.md).
//! tansu resolves the sqlite path against its working directory, so it runs inside its data directory.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::process::ServerProcess;
use crate::supervised::Supervised;
use crate::wait::free_port;
use crate::{Error, run_dir, tools};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Tansu {
    port: u16,
    server: Supervised,
    // Declared last: removed after the process stopped.
    _dir: tempfile::TempDir,
}

impl Tansu {
    pub(super) fn start() -> Result<Self, Error> {
        let program = tools::find("tansu", &[])?;
        let dir = run_dir::server_dir("tansu")?;
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let args = [
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ];
        let process = ServerProcess::start("tansu", &program, args, dir.path())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let bootstrap = format!("127.0.0.1:{port}");
        let server = Supervised::start(process, format!("tansu on {addr}"), READY_TIMEOUT, move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| format!("connect: {e}"))?;
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .map_err(|e| e.to_string())?;
            consumer
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
                .map_err(|e| format!("metadata: {e}"))
        })?;
        Ok(Self {
            port,
            server,
            _dir: dir,
        })
    }

    pub(super) fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(super) async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), Error> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()?;
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics([&topic], &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::TopicCreation {
                        topic,
                        reason: code.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    pub(super) fn stop(&self) {
        self.server.stop();
    }

    pub(super) fn kill(&self) {
        self.server.kill();
    }

    pub(super) fn restart(&self) -> Result<(), Error> {
        self.server.restart()
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.server.pid()
    }
}
