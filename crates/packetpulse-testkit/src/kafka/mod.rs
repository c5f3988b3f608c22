//! A Kafka-protocol broker behind one API: the real `tansu` broker (sqlite storage) or librdkafka's in-process
//! mock cluster for fast tests. Both are reached through rdkafka, the client every planet uses.

mod mock;
mod tansu;

use std::time::Duration;

use std::time::Instant;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::{Error, unique_name, wait_until};

/// Which broker implementation backs a [`Kafka`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaKind {
    /// The `tansu` broker process with sqlite storage: real network, real persistence, survives restarts.
    Tansu,
    /// librdkafka's mock cluster inside the test process: fast, no persistence across [`Kafka::stop`].
    Mock,
}

/// A running broker.
#[derive(Debug)]
pub struct Kafka {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Tansu(tansu::Tansu),
    Mock(mock::MockKafka),
}

impl Kafka {
    /// Starts a tansu broker on a free port with sqlite storage in a fresh directory.
    pub fn start_tansu() -> Result<Self, Error> {
        Ok(Self {
            backend: Backend::Tansu(tansu::Tansu::start()?),
        })
    }

    /// Starts an in-process mock cluster.
    pub fn start_mock() -> Result<Self, Error> {
        Ok(Self {
            backend: Backend::Mock(mock::MockKafka::start()?),
        })
    }

    /// Which implementation this is.
    pub fn kind(&self) -> KafkaKind {
        match self.backend {
            Backend::Tansu(_) => KafkaKind::Tansu,
            Backend::Mock(_) => KafkaKind::Mock,
        }
    }

    /// The `bootstrap.servers` value.
    pub fn bootstrap_servers(&self) -> String {
        match &self.backend {
            Backend::Tansu(broker) => broker.bootstrap_servers(),
            Backend::Mock(cluster) => cluster.bootstrap_servers(),
        }
    }

    /// A client config with `bootstrap.servers` set, to add producer or consumer settings to.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap_servers());
        config
    }

    /// Creates a topic and waits until every partition has a leader.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), Error> {
        match &self.backend {
            Backend::Tansu(broker) => broker.create_topic(name, partitions).await?,
            Backend::Mock(cluster) => cluster.create_topic(name, partitions)?,
        }
        self.wait_for_topic(name, partitions).await
    }

    /// Creates a topic named after `prefix` that no other test uses, and returns its name.
    pub async fn create_unique_topic(&self, prefix: &str, partitions: i32) -> Result<String, Error> {
        let name = unique_name(prefix);
        self.create_topic(&name, partitions).await?;
        Ok(name)
    }

    async fn wait_for_topic(&self, name: &str, partitions: i32) -> Result<(), Error> {
        let consumer: BaseConsumer = self.client_config().create()?;
        let expected = usize::try_from(partitions).unwrap_or(0);
        wait_until(
            &format!("topic {name} with {partitions} partitions"),
            Duration::from_secs(30),
            || {
                let metadata = consumer.fetch_metadata(Some(name), Duration::from_secs(5));
                async move {
                    let metadata = metadata.map_err(|e| e.to_string())?;
                    let Some(topic) = metadata.topics().first() else {
                        return Ok(None);
                    };
                    let ready = topic.error().is_none()
                        && topic.partitions().len() == expected
                        && topic
                            .partitions()
                            .iter()
                            .all(|p| p.error().is_none() && p.leader() >= 0);
                    Ok(ready.then_some(()))
                }
            },
        )
        .await
    }

    /// Reads every partition of `topic` from the beginning: at least `at_least` messages (failing once `timeout`
    /// has passed), then more until `quiet` passes without one. Returns them in arrival order.
    pub fn read_topic(
        &self,
        topic: &str,
        at_least: usize,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<Vec<OwnedMessage>, Error> {
        let consumer: BaseConsumer = self
            .client_config()
            .set("group.id", "testkit-topic-reader")
            .create()?;
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        let mut assignment = TopicPartitionList::new();
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            assignment.add_partition_offset(topic, partition.id(), Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let deadline = Instant::now() + timeout;
        let mut quiet_until = Instant::now() + quiet;
        let mut messages = Vec::new();
        while messages.len() < at_least || Instant::now() < quiet_until {
            if messages.len() < at_least && Instant::now() >= deadline {
                return Err(Error::NotReady {
                    what: format!("{at_least} messages in topic {topic}"),
                    timeout,
                    last_problem: format!("only {} arrived", messages.len()),
                    log_tail: String::new(),
                });
            }
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message?;
                debug_assert!(message.topic() == topic);
                messages.push(message.detach());
                quiet_until = Instant::now() + quiet;
            }
        }
        Ok(messages)
    }

    /// Takes the broker away (tansu: process stopped; mock: its brokers marked down). Clients see an outage.
    pub fn stop(&self) {
        match &self.backend {
            Backend::Tansu(broker) => broker.stop(),
            Backend::Mock(cluster) => cluster.set_brokers_up(false),
        }
    }

    /// Kills the broker without a chance to flush (tansu: SIGKILL). The mock cluster has no crash: an error.
    pub fn kill(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Tansu(broker) => {
                broker.kill();
                Ok(())
            }
            Backend::Mock(_) => Err(Error::Unsupported(
                "the mock cluster cannot crash; use tansu".into(),
            )),
        }
    }

    /// Brings the broker back on the same address (tansu: same port and data) and waits until it answers.
    pub fn restart(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Tansu(broker) => broker.restart(),
            Backend::Mock(cluster) => {
                cluster.set_brokers_up(true);
                Ok(())
            }
        }
    }

    /// The PID of the broker process; `None` for the in-process mock.
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Tansu(broker) => broker.pid(),
            Backend::Mock(_) => None,
        }
    }
}
