//! Swarms: a source VM (or commit) branched into N workers in one API call, one task per
//! worker — a shell command or a pi agent — run as background processes, gathered, and the
//! best kept.
