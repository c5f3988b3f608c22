//! Every input of the corpus (the seeds and what fuzzing kept) through both harnesses: a regression test for
//! whatever the fuzzer once found, and a check that the harnesses run without libFuzzer.

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap_or_else(|error| panic!("{error}")).path();
            let data = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            (path.display().to_string(), data)
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn the_frame_corpus_passes_the_frame_harness() {
    let inputs = inputs("frame");
    assert!(inputs.len() >= 8, "the frame corpus has {} inputs", inputs.len());
    for (_, data) in inputs {
        packetpulse_fuzz::frame(&data);
    }
}

#[test]
fn the_session_corpus_passes_the_session_harness() {
    let inputs = inputs("session");
    assert!(
        inputs.len() >= 4,
        "the session corpus has {} inputs",
        inputs.len()
    );
    for (_, data) in inputs {
        packetpulse_fuzz::session(&data);
    }
}
