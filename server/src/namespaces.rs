//! Which namespaces clients may join: names, `*` for any, or patterns with `*` wildcards
//! (`/team-*`).

/// The namespaces of `rtio serve`.
#[derive(Debug, Clone)]
pub struct Namespaces {
    names: Vec<String>,
    patterns: Vec<String>,
}

impl Namespaces {
    pub fn new(list: &[String]) -> Namespaces {
        let (patterns, names) = list.iter().cloned().partition(|n| n.contains('*'));
        Namespaces { names, patterns }
    }

    /// The names without wildcards: created at start.
    pub fn fixed(&self) -> &[String] {
        &self.names
    }

    /// True when some namespace is a pattern: others are created on first connect.
    pub fn dynamic(&self) -> bool {
        !self.patterns.is_empty()
    }

    pub fn allows(&self, nsp: &str) -> bool {
        self.names.iter().any(|n| n == nsp) || self.patterns.iter().any(|p| matches(p, nsp))
    }
}

/// Glob match where `*` is any run of characters.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stars_and_patterns() {
        let ns = Namespaces::new(&["/".into(), "/team-*".into(), "/a*b*c".into()]);
        assert!(ns.allows("/") && ns.allows("/team-1") && ns.allows("/team-"));
        assert!(ns.allows("/abc") && ns.allows("/a-b-c") && !ns.allows("/acb"));
        assert!(!ns.allows("/admin") && !ns.allows("/tea"));
        assert!(Namespaces::new(&["*".into()]).allows("/anything"));
        assert_eq!(ns.fixed(), ["/".to_string()]);
        assert!(ns.dynamic());
    }
}
