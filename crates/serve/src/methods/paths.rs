//! Paths on a VM as the model writes them: `~` is the VM's home, relative paths start at the
//! VM's working directory.

use crate::state::Place;

/// `path` made absolute on the VM at `place`.
pub(crate) fn resolve(place: &Place, path: &str) -> String {
    if path == "~" {
        return place.home.clone();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return join(&place.home, rest);
    }
    if path.starts_with('/') {
        return path.to_owned();
    }
    join(&place.cwd, path)
}

/// `dir` and `rest` joined by one slash (`rest` empty or `.`: `dir` itself).
fn join(dir: &str, rest: &str) -> String {
    if rest.is_empty() || rest == "." {
        return dir.to_owned();
    }
    format!("{}/{rest}", dir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_the_vm_home_and_relative_paths_start_at_its_cwd() {
        let place = Place {
            home: "/root".into(),
            cwd: "/srv/app".into(),
        };
        assert_eq!(resolve(&place, "~"), "/root");
        assert_eq!(resolve(&place, "~/notes.txt"), "/root/notes.txt");
        assert_eq!(resolve(&place, "src/main.rs"), "/srv/app/src/main.rs");
        assert_eq!(resolve(&place, "."), "/srv/app");
        assert_eq!(resolve(&place, "/etc/hostname"), "/etc/hostname");
        assert_eq!(resolve(&place, "~user/x"), "/srv/app/~user/x");
        let root = Place {
            home: "/".into(),
            cwd: "/".into(),
        };
        assert_eq!(resolve(&root, "~/x"), "/x");
    }
}
