//! librdkafka's mock cluster, owned by a thread of its own.
//!
//! The cluster handle is a raw pointer (neither `Send` nor `Sync`); keeping it on one thread and talking to it
//! over a channel lets a test share a [`MockKafka`] freely, and even keep one in a static.

use std::sync::Mutex;
use std::sync::mpsc;

use rdkafka::mocking::MockCluster;

use crate::Error;

const BROKERS: i32 = 1;

enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::Sender<Result<(), String>>,
    },
    SetBrokersUp {
        up: bool,
        reply: mpsc::Sender<()>,
    },
}

#[derive(Debug)]
pub(super) struct MockKafka {
    bootstrap_servers: String,
    commands: Mutex<mpsc::Sender<Command>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mock cluster command")
    }
}

impl MockKafka {
    pub(super) fn start() -> Result<Self, Error> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (started, bootstrap) = mpsc::channel();
        std::thread::Builder::new()
            .name("testkit-mock-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(BROKERS) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(Ok(cluster.bootstrap_servers()));
                // Runs until the MockKafka (the only sender) is dropped; then the cluster is destroyed.
                for command in receiver {
                    match command {
                        Command::CreateTopic {
                            name,
                            partitions,
                            reply,
                        } => {
                            let result = cluster
                                .create_topic(&name, partitions, 1)
                                .map_err(|e| e.to_string());
                            let _ = reply.send(result);
                        }
                        Command::SetBrokersUp { up, reply } => {
                            // Going down rebinds the listener's port, and librdkafka aborts if that fails:
                            // a spawn's child must not hold the old listener open meanwhile.
                            crate::process::outside_fork_window(|| {
                                for broker in 1..=BROKERS {
                                    let _ = if up {
                                        cluster.broker_up(broker)
                                    } else {
                                        cluster.broker_down(broker)
                                    };
                                }
                            });
                            let _ = reply.send(());
                        }
                    }
                }
            })
            .map_err(Error::io("spawning the mock cluster thread"))?;
        let bootstrap_servers = bootstrap
            .recv()
            .map_err(|_| Error::Unsupported("the mock cluster thread died while starting".into()))??;
        Ok(Self {
            bootstrap_servers,
            commands: Mutex::new(commands),
        })
    }

    pub(super) fn bootstrap_servers(&self) -> String {
        self.bootstrap_servers.clone()
    }

    pub(super) fn create_topic(&self, name: &str, partitions: i32) -> Result<(), Error> {
        let (reply, result) = mpsc::channel();
        self.send(Command::CreateTopic {
            name: name.into(),
            partitions,
            reply,
        })?;
        let outcome = result
            .recv()
            .map_err(|_| Error::Unsupported("the mock cluster thread is gone".into()))?;
        outcome.map_err(|reason| Error::TopicCreation {
            topic: name.into(),
            reason,
        })
    }

    pub(super) fn set_brokers_up(&self, up: bool) {
        let (reply, done) = mpsc::channel();
        if self.send(Command::SetBrokersUp { up, reply }).is_ok() {
            let _ = done.recv();
        }
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(command)
            .map_err(|_| Error::Unsupported("the mock cluster thread is gone".into()))
    }
}
