//! Every operation and every error class through our client against a real
//! server. The cases are the transactions recorded in `fixtures/txn/` with
//! ovsdb-server 3.1's replies; each is replayed on a fresh server through
//! `Client::transact`, and our typed outcome must say what the recorded
//! reply says: the same results, or the same failing operation and kind.

use testsupport as support;

use std::time::Duration;

use ovsdb::io::Client;
use ovsdb::proto::txn::{OperationResult, Transaction, TxnError};
use ovsdb::session::{Remote, SessionConfig, SessionError};
use serde_json::Value;
use support::{OvsdbServer, ServerOptions};

/// What a transaction came to, in a form both sides can be put in.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Per operation: "insert", "rows N", "count N" or "empty".
    Results(Vec<String>),
    /// The failing operation's index and the error string.
    Failed(usize, String),
    /// A JSON-RPC error for the whole request.
    Rpc(String),
}

fn recorded(reply: &Value) -> Outcome {
    if !reply["error"].is_null() {
        return Outcome::Rpc(reply["error"]["error"].as_str().unwrap().to_owned());
    }
    let results = reply["result"].as_array().unwrap();
    if let Some(i) = results.iter().position(|r| r.get("error").is_some()) {
        return Outcome::Failed(i, results[i]["error"].as_str().unwrap().to_owned());
    }
    Outcome::Results(
        results
            .iter()
            .map(|r| match (r.get("uuid"), r.get("rows"), r.get("count")) {
                (Some(_), _, _) => "insert".to_string(),
                (_, Some(rows), _) => format!("rows {}", rows.as_array().unwrap().len()),
                (_, _, Some(n)) => format!("count {n}"),
                _ => "empty".to_string(),
            })
            .collect(),
    )
}

fn ours(result: Result<Vec<OperationResult>, SessionError>) -> Outcome {
    match result {
        Ok(results) => Outcome::Results(
            results
                .iter()
                .map(|r| match r {
                    OperationResult::Insert { .. } => "insert".to_string(),
                    OperationResult::Select { rows } => format!("rows {}", rows.len()),
                    OperationResult::Count(n) => format!("count {n}"),
                    OperationResult::Empty => "empty".to_string(),
                })
                .collect(),
        ),
        Err(SessionError::Txn(TxnError::Operation(e))) => Outcome::Failed(e.index, e.kind.as_str().to_owned()),
        Err(SessionError::Rpc(v)) => Outcome::Rpc(v["error"].as_str().unwrap_or_default().to_owned()),
        Err(e) => panic!("unexpected failure: {e}"),
    }
}

#[test]
fn every_recorded_case_replays_the_same_through_our_client() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/txn");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 15, "fixtures missing from {}", dir.display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let active = OvsdbServer::start("ovn-nb.ovsschema");
        // A backup server (--sync-from) refuses writes: the "not allowed" case.
        let backup = fixture["server"].as_str().unwrap().contains("--sync-from").then(|| {
            let mut opts = ServerOptions::new("ovn-nb.ovsschema");
            opts.extra_args.push(format!("--sync-from={}", active.remote()));
            OvsdbServer::start_with(opts)
        });
        let target = backup.as_ref().unwrap_or(&active);
        for setup in fixture["setup"].as_array().unwrap() {
            target.transact(&setup.to_string());
        }
        let params = &fixture["request"]["params"];
        let txn = Transaction::from_json(params).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = rt.block_on(async {
            let config = SessionConfig::new(Remote::parse_list(&target.remote()).unwrap(), "OVN_Northbound");
            let mut client = Client::new(config, None);
            tokio::time::timeout(Duration::from_secs(60), client.transact(txn)).await.expect("an answer in time")
        });
        assert_eq!(ours(outcome), recorded(&fixture["reply"]), "case {name}");
    }
}
