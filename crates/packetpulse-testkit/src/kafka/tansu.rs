//! The tansu broker process with its sqlite storage engine.
//!
//! Not the memory engine: it loses or repeats messages when a consumer resumes mid-batch (ARCHITECTURE.md).
//! tansu resolves the sqlite path against its working directory, so it runs inside its data directory.

use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::process::ServerProcess;
use crate::wait::{free_port, wait_for_server};
use crate::{Error, run_dir, tools};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Tansu {
    port: u16,
    process: Mutex<ServerProcess>,
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
        let broker = Self {
            port,
            process: Mutex::new(process),
            _dir: dir,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    fn wait_ready(&self) -> Result<(), Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let bootstrap = self.bootstrap_servers();
        let mut process = self.process.lock().unwrap_or_else(|p| p.into_inner());
        wait_for_server(&mut process, &format!("tansu on {addr}"), READY_TIMEOUT, || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| format!("connect: {e}"))?;
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .map_err(|e| e.to_string())?;
            consumer
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
                .map_err(|e| format!("metadata: {e}"))
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
        self.process.lock().unwrap_or_else(|p| p.into_inner()).stop();
    }

    pub(super) fn kill(&self) {
        self.process.lock().unwrap_or_else(|p| p.into_inner()).kill();
    }

    pub(super) fn restart(&self) -> Result<(), Error> {
        self.process.lock().unwrap_or_else(|p| p.into_inner()).restart()?;
        self.wait_ready()
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.process.lock().unwrap_or_else(|p| p.into_inner()).pid()
    }
}
