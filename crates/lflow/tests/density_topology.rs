//! The density topology (`examples/gen_topology/density.rs`, the NB of
//! `scripts/bench-density`) on the compiler: every row translates without
//! a diagnostic, the bindings have the topology's shape, and the services
//! are balanced on the gateway routers too. The benchmark checks the
//! reference agrees; this checks the generator and ours do not drift.

#[allow(dead_code)] // density.rs uses `Insert` and its helpers; this test also `update2`.
#[path = "../examples/gen_topology/topology.rs"]
mod topology;

#[path = "../examples/gen_topology/density.rs"]
mod density;

use std::collections::HashSet;
use std::sync::Arc;

use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{DatabaseSchema, Replica};

fn schema(file: &str) -> Arc<DatabaseSchema> {
    let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// The string of a desired row's column, or "".
fn text<'r>(row: &'r lflow::output::DesiredRow, column: &str) -> &'r str {
    row.get(column).and_then(|d| d.as_atom()).and_then(|a| a.as_str()).unwrap_or("")
}

#[test]
fn density_topology_translates_with_its_shape() {
    // 2 nodes of 60 pods, 4 namespaces, 6 services.
    let pods = 120;
    assert_eq!((density::nodes(pods), density::namespaces(pods), density::per_node(pods)), (2, 4, 60));
    let rows = density::generate(pods);
    let nb_schema = schema("ovn-nb.ovsschema");
    let updates = decode_table_updates(&topology::update2(&rows).to_string(), UpdateFormat::Update2, &nb_schema)
        .expect("the generated rows decode");
    let mut nb = Replica::new(nb_schema);
    nb.apply(updates).expect("the generated rows apply");
    let out = lflow::compile(&nb, &Replica::new(schema("ovn-sb.ovsschema")));

    let diagnostics: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(diagnostics, Vec::<String>::new());
    // Per node a switch, a gateway router, an external switch; the join
    // switch and the cluster router.
    assert_eq!(out.rows("Datapath_Binding").len(), 2 * 3 + 2);
    // The pods; per node the management port, the cluster router's port
    // and its peer, the localnet port, the gateway router's two ports and
    // their peers; the cluster router's join port and its peer.
    assert_eq!(out.rows("Port_Binding").len(), pods + 2 * 8 + 2);
    let addresses: HashSet<&str> = nb
        .table("Logical_Switch_Port")
        .unwrap()
        .rows()
        .filter_map(|r| r.get("addresses").atoms().first().and_then(|a| a.as_str()))
        .filter(|a| a.starts_with("0a:58:"))
        .collect();
    assert_eq!(addresses.len(), pods + 2, "every pod and management port has its own MAC and IP");
    // The gateway routers balance the services (the cluster router, which
    // has no gateway, does not); 10.96.0.2:443 is the second service.
    let dnat = "ct.new && !ct.rel && ip4 && ip4.dst == 10.96.0.2 && tcp && tcp.dst == 443";
    assert!(
        out.rows("Logical_Flow").iter().any(|f| text(f, "match") == dnat && text(f, "actions").contains("ct_lb_mark")),
        "no gateway router balances 10.96.0.2:443"
    );
}
