//! Open vSwitch's logging levels (`-v`/`--verbose=SPEC`, `man ovs-appctl`
//! "vlog/set"), read into per-destination, per-module levels that the
//! logging layer applies to tracing events.
//!
//! A spec is words separated by spaces, commas or colons, at most one of
//! each kind: a module, a destination (`console`, `syslog`, `file`), a level
//! (`off`, `emer`, `err`, `warn`, `info`, `dbg`); case does not matter. A
//! missing module means every module, a missing destination every
//! destination, a missing level `dbg`. `any` is accepted and does nothing,
//! as in OVS. The modules are our crates: `northd`, `ovsdb`, `lflow`.
//!
//! What it must never do: I/O, or accept a spec it cannot honour without
//! saying so (the pattern and facility forms are rejected).

use std::collections::BTreeMap;

use thiserror::Error;

/// The modules a spec may name: the crates that log, by tracing target
/// prefix.
pub const MODULES: &[&str] = &["northd", "ovsdb", "lflow"];

/// A log level, least verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off,
    Emer,
    Err,
    Warn,
    Info,
    Dbg,
}

impl Level {
    fn parse(word: &str) -> Option<Level> {
        Some(match word {
            "off" => Level::Off,
            "emer" => Level::Emer,
            "err" => Level::Err,
            "warn" => Level::Warn,
            "info" => Level::Info,
            "dbg" => Level::Dbg,
            _ => return None,
        })
    }

    /// The level of a tracing event: errors are `err` (tracing has no
    /// emergency level), debug and trace are both `dbg`.
    pub fn of(level: &tracing::Level) -> Level {
        match *level {
            tracing::Level::ERROR => Level::Err,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            _ => Level::Dbg,
        }
    }

    /// The name OVS prints in a log line.
    pub fn label(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Emer => "EMER",
            Level::Err => "ERR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Dbg => "DBG",
        }
    }
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Destination {
    Console,
    Syslog,
    File,
}

impl Destination {
    const ALL: [Destination; 3] = [Destination::Console, Destination::Syslog, Destination::File];

    fn parse(word: &str) -> Option<Destination> {
        Some(match word {
            "console" => Destination::Console,
            "syslog" => Destination::Syslog,
            "file" => Destination::File,
            _ => return None,
        })
    }
}

/// A spec that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VlogError {
    /// A word that is no module, destination or level.
    #[error("no destination, level, or module \"{0}\"")]
    UnknownWord(String),
    /// Two words of the same kind.
    #[error("cannot specify more than one {kind} (\"{first}\" and \"{second}\")")]
    Twice { kind: &'static str, first: String, second: String },
    /// `PATTERN:...` or `FACILITY:...`, which we do not support.
    #[error("{0} specifications are not supported by ovn-northd-rs")]
    Unsupported(&'static str),
}

/// Levels per destination, with per-module exceptions. OVS's defaults:
/// every destination at `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    levels: BTreeMap<(Destination, &'static str), Level>,
    /// A spec set a syslog level above `off`: logged as unsupported.
    pub syslog_asked: bool,
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        let mut levels = BTreeMap::new();
        for dest in Destination::ALL {
            for module in MODULES {
                levels.insert((dest, *module), Level::Info);
            }
        }
        LogSettings { levels, syslog_asked: false }
    }
}

impl LogSettings {
    /// The level of `module` (a tracing target; only its first `::` segment
    /// counts) at `dest`; modules we do not know log at `info`.
    pub fn level(&self, dest: Destination, target: &str) -> Level {
        let module = module_of(target);
        self.levels.get(&(dest, module)).copied().unwrap_or(Level::Info)
    }

    /// The most verbose level set for `dest`, for a quick pre-filter.
    pub fn max_level(&self, dest: Destination) -> Level {
        self.levels.iter().filter(|((d, _), _)| *d == dest).map(|(_, l)| *l).max().unwrap_or(Level::Off)
    }

    /// Turns a destination off for every module (`--detach` closes the
    /// console).
    pub fn silence(&mut self, dest: Destination) {
        for ((d, _), level) in self.levels.iter_mut() {
            if *d == dest {
                *level = Level::Off;
            }
        }
    }
}

/// The module of a tracing target: its crate, `northd::main_loop` ->
/// `northd`.
pub fn module_of(target: &str) -> &str {
    target.split("::").next().unwrap_or(target)
}

/// Applies one `-v` spec (empty for plain `-v`: everything at `dbg`).
pub fn apply_spec(settings: &mut LogSettings, spec: &str) -> Result<(), VlogError> {
    let lower = spec.to_ascii_lowercase();
    let words: Vec<&str> = lower.split([' ', ',', ':']).filter(|w| !w.is_empty()).collect();
    match words.first() {
        Some(&"pattern") => return Err(VlogError::Unsupported("PATTERN")),
        Some(&"facility") => return Err(VlogError::Unsupported("FACILITY")),
        _ => {}
    }
    let mut module: Option<&'static str> = None;
    let mut dest: Option<Destination> = None;
    let mut level: Option<Level> = None;
    let twice = |kind, first: &str, second: &str| VlogError::Twice { kind, first: first.into(), second: second.into() };
    for word in words {
        if word == "any" {
            continue;
        }
        if let Some(l) = Level::parse(word) {
            if let Some(prev) = level {
                return Err(twice("level", prev.label(), word));
            }
            level = Some(l);
        } else if let Some(d) = Destination::parse(word) {
            if let Some(prev) = dest {
                return Err(twice("destination", &format!("{prev:?}").to_ascii_lowercase(), word));
            }
            dest = Some(d);
        } else if let Some(m) = MODULES.iter().find(|m| **m == word) {
            if let Some(prev) = module {
                return Err(twice("module", prev, word));
            }
            module = Some(m);
        } else {
            return Err(VlogError::UnknownWord(word.to_owned()));
        }
    }
    let level = level.unwrap_or(Level::Dbg);
    for d in Destination::ALL {
        if dest.is_some_and(|want| want != d) {
            continue;
        }
        for m in MODULES {
            if module.is_some_and(|want| want != *m) {
                continue;
            }
            settings.levels.insert((d, m), level);
        }
    }
    if dest == Some(Destination::Syslog) && level > Level::Off {
        settings.syslog_asked = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(specs: &[&str]) -> LogSettings {
        let mut s = LogSettings::default();
        for spec in specs {
            apply_spec(&mut s, spec).unwrap();
        }
        s
    }

    #[test]
    fn defaults_are_info_everywhere() {
        let s = LogSettings::default();
        assert_eq!(s.level(Destination::Console, "northd::main_loop"), Level::Info);
        assert_eq!(s.level(Destination::File, "ovsdb::session"), Level::Info);
        assert_eq!(s.level(Destination::File, "tokio::runtime"), Level::Info);
    }

    #[test]
    fn the_usual_specs_of_ovn_scripts() {
        // ovn-ctl's defaults.
        let s = settings(&["-vconsole:emer", "syslog:err", "file:info"].map(|w| w.trim_start_matches("-v")));
        assert_eq!(s.level(Destination::Console, "northd"), Level::Emer);
        assert_eq!(s.level(Destination::Syslog, "ovsdb"), Level::Err);
        assert_eq!(s.level(Destination::File, "lflow"), Level::Info);
        assert!(s.syslog_asked);
        let s = settings(&["console:off", "dbg"]);
        assert_eq!(s.level(Destination::Console, "northd"), Level::Dbg, "later specs win");
        let s = settings(&[""]);
        assert_eq!(s.max_level(Destination::File), Level::Dbg);
        let s = settings(&["ovsdb:file:DBG:ANY"]);
        assert_eq!(s.level(Destination::File, "ovsdb::io::client"), Level::Dbg);
        assert_eq!(s.level(Destination::File, "northd"), Level::Info);
        assert_eq!(s.level(Destination::Console, "ovsdb"), Level::Info);
        assert!(!s.syslog_asked);
        let s = settings(&["northd warn,console"]);
        assert_eq!(s.level(Destination::Console, "northd::control"), Level::Warn);
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut s = LogSettings::default();
        assert_eq!(apply_spec(&mut s, "console:bogus"), Err(VlogError::UnknownWord("bogus".into())));
        assert!(matches!(apply_spec(&mut s, "info:dbg"), Err(VlogError::Twice { kind: "level", .. })));
        assert!(matches!(apply_spec(&mut s, "file:console"), Err(VlogError::Twice { kind: "destination", .. })));
        assert_eq!(apply_spec(&mut s, "PATTERN:file:%m"), Err(VlogError::Unsupported("PATTERN")));
        assert_eq!(apply_spec(&mut s, "FACILITY:daemon"), Err(VlogError::Unsupported("FACILITY")));
        assert_eq!(s, LogSettings::default(), "a refused spec changes nothing");
    }

    #[test]
    fn silence_turns_one_destination_off() {
        let mut s = settings(&["dbg"]);
        s.silence(Destination::Console);
        assert_eq!(s.max_level(Destination::Console), Level::Off);
        assert_eq!(s.level(Destination::File, "northd"), Level::Dbg);
    }

    #[test]
    fn event_levels_map_onto_vlog_levels() {
        assert_eq!(Level::of(&tracing::Level::ERROR), Level::Err);
        assert_eq!(Level::of(&tracing::Level::TRACE), Level::Dbg);
        assert!(Level::of(&tracing::Level::INFO) <= Level::Info);
        assert!(Level::of(&tracing::Level::DEBUG) > Level::Info);
    }
}
