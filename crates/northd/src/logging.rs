//! Logging through tracing, in Open vSwitch's line format:
//! `2026-11-24T02:48:37.123Z|00001|northd|INFO|message key=value`
//! (the console drops the milliseconds, as OVS daemons do). One sequence
//! number counts every line, whatever its destinations. Span fields come
//! first, `span{field=value}: `, so a cycle's run id and a connection's
//! database appear on every line logged inside them.
//!
//! Destinations: the console (stderr) and `--log-file`, each with the levels
//! of `-v` ([`LogSettings`]). The file is opened in append mode and reopened
//! by [`LogHandle::reopen`] (SIGHUP and `vlog/reopen`), so logrotate can move
//! it away.
//!
//! What it must never do: panic or stop the daemon because a line could not
//! be written (a full disk loses log lines, not the service).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::vlog::{module_of, Destination, Level, LogSettings};

/// The log file, reopenable.
struct LogFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    fn write(&self, line: &[u8]) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut() {
            // A failed write loses the line; there is nowhere to report it.
            let _ = f.write_all(line);
        }
    }
}

/// A handle on the installed logger, to reopen its file.
#[derive(Clone, Default)]
pub struct LogHandle {
    file: Option<Arc<LogFile>>,
}

impl LogHandle {
    /// Reopens the log file under its name (after logrotate moved it).
    /// Without `--log-file` there is nothing to do.
    pub fn reopen(&self) -> io::Result<()> {
        let Some(lf) = &self.file else { return Ok(()) };
        let file = LogFile::open(&lf.path)?;
        *lf.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        tracing::info!(path = %lf.path.display(), "reopened log file");
        Ok(())
    }
}

/// Installs the logger as the global tracing subscriber. Fails if the log
/// file cannot be opened.
pub fn init(settings: LogSettings, log_file: Option<&Path>) -> io::Result<LogHandle> {
    let file = match log_file {
        Some(path) => Some(Arc::new(LogFile { path: path.to_owned(), file: Mutex::new(Some(LogFile::open(path)?)) })),
        None => None,
    };
    let layer = OvsLayer { settings, file: file.clone(), seq: AtomicU64::new(0) };
    // Fails only if a subscriber is already installed (never in the binary).
    let _ = tracing_subscriber::registry().with(layer).try_init();
    if let Some(f) = &file {
        tracing::info!(path = %f.path.display(), "opened log file");
    }
    Ok(LogHandle { file })
}

/// The fields of a span, formatted once when it is created.
struct SpanFields(String);

/// Formats fields as ` key=value`, keeping `message` apart.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// The layer that writes OVS-style lines to the console and the file.
struct OvsLayer {
    settings: LogSettings,
    file: Option<Arc<LogFile>>,
    seq: AtomicU64,
}

impl OvsLayer {
    fn wants(&self, dest: Destination, meta: &Metadata<'_>) -> bool {
        let present = match dest {
            Destination::Console => true,
            Destination::File => self.file.is_some(),
            Destination::Syslog => false,
        };
        present && Level::of(meta.level()) <= self.settings.level(dest, meta.target())
    }
}

impl<S> Layer<S> for OvsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // Spans are always kept: their fields show up in the events inside.
        meta.is_span() || self.wants(Destination::Console, meta) || self.wants(Destination::File, meta)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(text.fields.trim_start().to_owned()));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        values.record(&mut text);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<SpanFields>() {
                if !fields.0.is_empty() {
                    fields.0.push(' ');
                }
                fields.0.push_str(text.fields.trim_start());
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let to_console = self.wants(Destination::Console, meta);
        let to_file = self.wants(Destination::File, meta);
        if !to_console && !to_file {
            return;
        }
        let mut body = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let ext = span.extensions();
                let fields = ext.get::<SpanFields>().map(|f| f.0.as_str()).unwrap_or_default();
                let _ = write!(body, "{}{{{}}}: ", span.name(), fields);
            }
        }
        let mut text = FieldText::default();
        event.record(&mut text);
        body.push_str(&text.message);
        body.push_str(&text.fields);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_millis();
        let module = module_of(meta.target());
        let level = Level::of(meta.level()).label();
        if to_console {
            let line = format!("{}|{seq:05}|{module}|{level}|{body}\n", timestamp(now, false));
            let _ = io::stderr().write_all(line.as_bytes());
        }
        if let (true, Some(file)) = (to_file, &self.file) {
            let line = format!("{}|{seq:05}|{module}|{level}|{body}\n", timestamp(now, true));
            file.write(line.as_bytes());
        }
    }
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `2026-11-24T02:48:37.123Z` (or without `.123`) for milliseconds since
/// the epoch, in UTC.
pub fn timestamp(millis: i64, with_millis: bool) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if with_millis {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01, by
/// counting 400-year eras of 146,097 days from 0000-03-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year starting in March
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_in_ovs_form() {
        assert_eq!(timestamp(0, true), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(0, false), "1970-01-01T00:00:00Z");
        // The reference's log: 2026-11-24T02:52:03.355Z.
        assert_eq!(timestamp(1_795_488_723_355, true), "2026-11-24T02:52:03.355Z");
        assert_eq!(timestamp(951_782_400_000, false), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(4_107_542_399_999, true), "2100-02-28T23:59:59.999Z");
        assert_eq!(timestamp(-1, true), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn days_round_trip_through_the_calendar() {
        // Every day of 1900..2200 follows the previous one.
        let mut prev = civil_from_days(-25_567);
        assert_eq!(prev, (1900, 1, 1));
        for day in -25_566..83_000 {
            let cur = civil_from_days(day);
            let next_in_month = (prev.0, prev.1, prev.2 + 1);
            let next_month = if prev.1 == 12 { (prev.0 + 1, 1, 1) } else { (prev.0, prev.1 + 1, 1) };
            assert!(cur == next_in_month || cur == next_month, "{prev:?} -> {cur:?}");
            prev = cur;
        }
    }

    #[test]
    fn lines_follow_the_ovs_format_with_span_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut settings = LogSettings::default();
        settings.silence(Destination::Console);
        let file = Arc::new(LogFile { path: path.clone(), file: Mutex::new(Some(LogFile::open(&path).unwrap())) });
        let layer = OvsLayer { settings, file: Some(file.clone()), seq: AtomicU64::new(0) };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("cycle", run_id = 7);
            let _g = span.enter();
            tracing::info!(inserted = 3, "sb transaction committed");
            tracing::debug!("not at info");
            tracing::warn!(target: "ovsdb::session", db = "OVN_Southbound", "dropping connection");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let fields: Vec<&str> = lines[0].splitn(5, '|').collect();
        assert_eq!(fields[0].len(), "2026-11-24T02:48:37.123Z".len(), "{}", lines[0]);
        assert_eq!(&fields[1..], ["00001", "northd", "INFO", "cycle{run_id=7}: sb transaction committed inserted=3"]);
        assert!(lines[1].ends_with("|00002|ovsdb|WARN|cycle{run_id=7}: dropping connection db=OVN_Southbound"));
        // Reopen after a rotation: the old file keeps its lines, new lines go to a new file.
        let rotated = dir.path().join("x.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        let handle = LogHandle { file: Some(file) };
        let mut quiet = LogSettings::default();
        quiet.silence(Destination::Console);
        let subscriber = tracing_subscriber::registry().with(OvsLayer {
            settings: quiet,
            file: handle.file.clone(),
            seq: AtomicU64::new(0),
        });
        tracing::subscriber::with_default(subscriber, || {
            handle.reopen().unwrap();
            tracing::error!("after rotation");
        });
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), text);
        let fresh = std::fs::read_to_string(&path).unwrap();
        assert!(fresh.contains("|INFO|reopened log file path=") && fresh.contains("|ERR|after rotation"), "{fresh}");
    }
}
