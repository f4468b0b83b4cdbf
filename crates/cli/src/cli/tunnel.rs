//! `tether tunnel [VM] [LOCAL:]REMOTE…`: the arguments and the forward specs.

use std::str::FromStr;

use clap::Args;
use tether_router::DEFAULT_HOST;

/// Options of `tether tunnel`.
#[derive(Debug, Args)]
#[command(override_usage = "tether tunnel [OPTIONS] [VM] <[LOCAL:]REMOTE>...")]
pub(crate) struct TunnelArgs {
    /// The VM (full id or unique prefix) [default: the default VM], then one or more forwards
    /// [LOCAL:][HOST:]PORT: LOCAL is the port on 127.0.0.1 (0 or left out: a free one), HOST
    /// the host as the VM sees it [default: localhost, the VM itself]. With two or more
    /// arguments, a first one of digits only is a port, not a VM prefix.
    #[arg(required = true, value_name = "[VM] [LOCAL:]REMOTE")]
    pub words: Vec<String>,
}

impl TunnelArgs {
    /// The VM asked for (if any) and the forwards.
    pub(crate) fn split(&self) -> Result<(Option<String>, Vec<ForwardSpec>), String> {
        let (vm, specs) = match self.words.as_slice() {
            [first, rest @ ..] if !rest.is_empty() && first.parse::<ForwardSpec>().is_err() => {
                (Some(first.clone()), rest)
            }
            all => (None, all),
        };
        let specs = specs
            .iter()
            .map(|word| word.parse())
            .collect::<Result<_, _>>()?;
        Ok((vm, specs))
    }
}

/// One forward: a port on 127.0.0.1 to a host and port as the VM sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ForwardSpec {
    /// The local port; 0 = a free one.
    pub local: u16,
    /// The host, as the VM sees it (no brackets around an IPv6 address).
    pub host: String,
    /// The port there.
    pub port: u16,
}

impl ForwardSpec {
    /// The remote side as written: `PORT` for localhost, else `HOST:PORT` (`[v6]:PORT`).
    pub(crate) fn remote(&self) -> String {
        tether_router::Remote {
            host: self.host.clone(),
            port: self.port,
        }
        .written()
    }
}

impl FromStr for ForwardSpec {
    type Err = String;

    /// `PORT`, `LOCAL:PORT`, `HOST:PORT` or `LOCAL:HOST:PORT` (HOST may be `[v6]`).
    fn from_str(text: &str) -> Result<ForwardSpec, String> {
        let bad = |why: &str| {
            format!(
                "{text:?} is not a forward ({why}); give [LOCAL:][HOST:]PORT, e.g. 3000, 8080:3000 or 0:127.0.0.1:3000"
            )
        };
        let (rest, port) = match text.rsplit_once(':') {
            Some((rest, port)) => (Some(rest), port),
            None => (None, text),
        };
        let port = port_number(port)
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("bad PORT"))?;
        let (local, host) = match rest {
            None => (Some(0), DEFAULT_HOST),
            Some(host) if host.starts_with('[') => (Some(0), host),
            Some(rest) => match rest.split_once(':') {
                Some((local, host)) => (port_number(local), host),
                None => match port_number(rest) {
                    Some(local) => (Some(local), DEFAULT_HOST),
                    None => (Some(0), rest),
                },
            },
        };
        let local = local.ok_or_else(|| bad("bad LOCAL port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !valid_host(host) {
            return Err(bad("bad HOST"));
        }
        Ok(ForwardSpec {
            local,
            host: host.to_owned(),
            port,
        })
    }
}

/// A host name or IP address: letters, digits, `.`, `-`, `_`, `:`, not starting with `-`.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

/// A port number written in digits only.
fn port_number(text: &str) -> Option<u16> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(local: u16, host: &str, port: u16) -> ForwardSpec {
        ForwardSpec {
            local,
            host: host.into(),
            port,
        }
    }

    #[test]
    fn forwards_read_like_ssh_dash_l() {
        let parse = |text: &str| text.parse::<ForwardSpec>();
        assert_eq!(parse("3000"), Ok(spec(0, "localhost", 3000)));
        assert_eq!(parse("8080:3000"), Ok(spec(8080, "localhost", 3000)));
        assert_eq!(parse("0:3000"), Ok(spec(0, "localhost", 3000)));
        assert_eq!(parse("db:5432"), Ok(spec(0, "db", 5432)));
        assert_eq!(
            parse("8080:127.0.0.1:3000"),
            Ok(spec(8080, "127.0.0.1", 3000))
        );
        assert_eq!(parse("8080:[::1]:3000"), Ok(spec(8080, "::1", 3000)));
        assert_eq!(parse("[::1]:3000"), Ok(spec(0, "::1", 3000)));
        assert_eq!(spec(0, "::1", 3000).remote(), "[::1]:3000");
        assert_eq!(spec(0, "localhost", 3000).remote(), "3000");
        for bad in [
            "",
            "0",
            "x",
            "3000:",
            "70000",
            "-1:3000",
            "a:b:3000",
            "8080::3000",
            "+80",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("give [LOCAL:][HOST:]PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_first_word_is_the_vm_unless_it_is_a_forward() {
        let split = |words: &[&str]| {
            TunnelArgs {
                words: words.iter().map(|w| w.to_string()).collect(),
            }
            .split()
        };
        assert_eq!(
            split(&["3000"]),
            Ok((None, vec![spec(0, "localhost", 3000)]))
        );
        assert_eq!(
            split(&["145fd42d", "3000", "8080:4000"]),
            Ok((
                Some("145fd42d".into()),
                vec![spec(0, "localhost", 3000), spec(8080, "localhost", 4000)]
            ))
        );
        assert_eq!(
            split(&["3000", "4000"]),
            Ok((
                None,
                vec![spec(0, "localhost", 3000), spec(0, "localhost", 4000)]
            ))
        );
        assert!(split(&["145fd42d"]).is_err());
        assert!(split(&["145fd42d", "x"]).is_err());
    }
}
