//! Arbitrary bytes, fed in reads of a size taken from the first byte, through
//! `FrameDecoder` and `Message::decode`; every decoded message must survive
//! encoding and decoding again, and its raw members are decoded as a datum
//! and as monitor updates of the Northbound schema. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::proto::codec::FrameDecoder;
use ovsdb::proto::rpc::Message;
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::Datum;
use serde_json::value::RawValue;

mod nb_schema;

/// A small limit for half of the inputs, so refusals are exercised too.
const SMALL_MAX_FRAME: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let read = usize::from(first & 0x3f) + 1;
    let max_frame = if first & 0x40 != 0 { SMALL_MAX_FRAME } else { FrameDecoder::DEFAULT_MAX_FRAME };
    let mut decoder = FrameDecoder::new(max_frame);
    for chunk in stream.chunks(read) {
        decoder.feed(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max_frame);
                    if let Ok(msg) = Message::decode(&frame) {
                        check(&msg);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    assert_eq!(decoder.buffered(), 0);
                    return;
                }
            }
        }
        assert!(decoder.buffered() <= max_frame);
    }
    let _ = decoder.finish();
});

fn check(msg: &Message) {
    let again = Message::decode(&msg.encode()).expect("an encoded message decodes");
    assert_eq!(&again, msg);
    let raw = match msg {
        Message::Request { params, .. } | Message::Notification { params, .. } => params,
        Message::Reply { result, .. } => result,
        Message::Error { .. } => return,
    };
    let _ = serde_json::from_str::<Datum>(raw.get());
    // A monitor reply's result is the updates; a notification's are the last
    // of its params.
    let updates = match msg {
        Message::Reply { .. } => Some(raw.get()),
        _ => serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok().and_then(|params| params.last().map(|p| p.get())),
    };
    if let Some(json) = updates {
        for format in [UpdateFormat::Update, UpdateFormat::Update2] {
            let _ = decode_table_updates(json, format, nb_schema::nb_schema());
        }
    }
}
