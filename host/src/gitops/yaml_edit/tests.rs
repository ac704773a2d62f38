use super::*;

const KUSTOMIZATION: &str = "# Deployed by Argo CD; sluice edits newTag below.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n  - deployment.yaml   # the server\n\nimages:\n  - name: inference\n    newName: registry.example.com/fraud/inference\n    newTag: v1 # promoted by sluice\n  - name: sidecar\n    newTag: \"1.4\"\n";

fn sel(s: &str) -> Selector {
    s.parse().expect("valid selector")
}

/// Asserts that `after` equals `before` with `old` replaced by `new` at one place.
fn only_changed(before: &str, after: &str, old: &str, new: &str) {
    let at = before.find(old).expect("old text present");
    let expected = format!("{}{}{}", &before[..at], new, &before[at + old.len()..]);
    assert_eq!(after, expected);
}

#[test]
fn replaces_only_the_target_bytes_in_a_kustomization() {
    let e = set_value(
        "k.yaml",
        KUSTOMIZATION,
        &sel("images[name=inference].newTag"),
        "v2",
    )
    .expect("edit");
    assert!(e.changed);
    assert_eq!((e.old_value.as_str(), e.line), ("v1", 11));
    only_changed(KUSTOMIZATION, &e.text, "newTag: v1 #", "newTag: v2 #");
    assert_eq!(
        get_value("k.yaml", &e.text, &sel("images[name=sidecar].newTag")).expect("read"),
        "1.4"
    );
}

#[test]
fn quoting_style_and_type_are_kept() {
    let e = set_value(
        "k.yaml",
        KUSTOMIZATION,
        &sel("images[name=sidecar].newTag"),
        "1.5",
    )
    .expect("edit");
    only_changed(KUSTOMIZATION, &e.text, "\"1.4\"", "\"1.5\"");
    let e = set_value("a.yaml", "v: 'it''s'\n", &sel("v"), "it's v2").expect("edit");
    assert_eq!(e.text, "v: 'it''s v2'\n");
    // A plain string must not turn into a number: quote it.
    let e = set_value("a.yaml", "model_version: v1\n", &sel("model_version"), "2").expect("edit");
    assert_eq!(e.text, "model_version: \"2\"\n");
    // A plain number stays a plain number.
    let e = set_value("a.yaml", "model_version: 7\n", &sel("model_version"), "8").expect("edit");
    assert_eq!(e.text, "model_version: 8\n");
    // Values that YAML would misread are quoted.
    let e = set_value("a.yaml", "v: a\n", &sel("v"), "x: y").expect("edit");
    assert_eq!(e.text, "v: \"x: y\"\n");
    let e = set_value(
        "a.yaml",
        "img: {name: x, tag: v1}\n",
        &sel("img.tag"),
        "v2,beta",
    )
    .expect("edit");
    assert_eq!(e.text, "img: {name: x, tag: \"v2,beta\"}\n");
}

#[test]
fn deployment_env_and_other_documents_stay_identical() {
    let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: inference\n---\napiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: server\n          env:\n            - name: LOG_LEVEL\n              value: info\n            - name: MODEL_VERSION\n              value: \"v3\"\n        - name: proxy\n          env:\n            - name: MODEL_VERSION\n              value: other\n";
    let s = sel("spec.template.spec.containers[name=server].env[name=MODEL_VERSION].value");
    let e = set_value("d.yaml", text, &s, "v4").expect("edit");
    only_changed(text, &e.text, "\"v3\"", "\"v4\"");
}

#[test]
fn non_ascii_text_before_the_target_and_crlf_are_kept() {
    let text = "# modèle de détection — fraude\r\nname: \"é\"\r\nmodel_version: v1\r\n";
    let e = set_value("u.yaml", text, &sel("model_version"), "v2").expect("edit");
    only_changed(text, &e.text, "v1", "v2");
}

#[test]
fn a_value_already_there_changes_nothing() {
    let e = set_value(
        "k.yaml",
        KUSTOMIZATION,
        &sel("images[name=inference].newTag"),
        "v1",
    )
    .expect("no-op");
    assert!(!e.changed);
    assert_eq!(e.text, KUSTOMIZATION);
}

#[test]
fn selectors_that_match_nothing_or_several_are_errors() {
    let e = set_value(
        "k.yaml",
        KUSTOMIZATION,
        &sel("images[name=trainer].newTag"),
        "v2",
    )
    .expect_err("none");
    assert_eq!(
        e.to_string(),
        "k.yaml: `images[name=trainer].newTag` matches nothing (`images` exists but `images[name=trainer]` does not); nothing was changed"
    );
    let e = set_value("k.yaml", KUSTOMIZATION, &sel("model_version"), "v2").expect_err("none");
    assert!(
        e.to_string().contains("no document has `model_version`"),
        "{e}"
    );
    let e = set_value("k.yaml", KUSTOMIZATION, &sel("images[1].name"), "x").map(|e| e.changed);
    assert_eq!(e, Ok(true));
    let two = "a:\n  - {n: x, v: 1}\n  - {n: x, v: 2}\n";
    let e = set_value("t.yaml", two, &sel("a[n=x].v"), "3").expect_err("ambiguous");
    assert!(matches!(e, EditError::Ambiguous { count: 2, .. }), "{e}");
    assert!(e.to_string().contains("lines 2, 3"), "{e}");
}

#[test]
fn containers_block_scalars_bad_values_and_bad_yaml_are_refused() {
    let e = set_value("k.yaml", KUSTOMIZATION, &sel("images"), "v2").expect_err("list");
    assert!(
        matches!(
            e,
            EditError::NotAValue {
                kind: "list",
                line: 9,
                ..
            }
        ),
        "{e}"
    );
    let e = set_value("b.yaml", "v: |\n  text\n", &sel("v"), "x").expect_err("block");
    // The block scalar's content starts on line 2.
    assert!(matches!(e, EditError::BlockScalar { line: 2, .. }), "{e}");
    let e = set_value("a.yaml", "v: 1\n", &sel("v"), "two\nlines").expect_err("multiline");
    assert!(matches!(e, EditError::MultiLine { .. }));
    let e = set_value("bad.yaml", "a: [1, 2\nb: 3\n", &sel("b"), "4").expect_err("bad yaml");
    assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
    assert!(matches!(e, EditError::Parse { .. }));
}

#[test]
fn locate_points_at_the_node() {
    assert_eq!(
        locate(
            "k.yaml",
            KUSTOMIZATION,
            &sel("images[name=inference].newTag")
        ),
        Ok(Some((11, 13)))
    );
    assert_eq!(
        locate("k.yaml", KUSTOMIZATION, &sel("images[1]")),
        Ok(Some((12, 5)))
    );
    assert_eq!(
        locate("k.yaml", KUSTOMIZATION, &sel("images[name=nope]")),
        Ok(None)
    );
}

#[test]
fn what_follows_a_quoted_value_stays() {
    for (before, after) in [
        (
            "tag: 'v1'   # pinned by ops\n",
            "tag: 'v2'   # pinned by ops\n",
        ),
        ("tag: \"v1\"\t# pinned\n", "tag: \"v2\"\t# pinned\n"),
        ("tag: 'v1'   \nnext: x\n", "tag: 'v2'   \nnext: x\n"),
        (
            "img: {tag: 'v1' , name: x}\n",
            "img: {tag: 'v2' , name: x}\n",
        ),
        ("tag: 'it''s v1' # c\n", "tag: 'v2' # c\n"),
        ("tag: \"v\\\"1\" # c\n", "tag: \"v2\" # c\n"),
    ] {
        let path = if before.starts_with("img") {
            "img.tag"
        } else {
            "tag"
        };
        let e = set_value("q.yaml", before, &sel(path), "v2").expect(before);
        assert_eq!(e.text, after);
    }
}

#[test]
fn anchors_and_tags_stay_in_front_of_the_new_value() {
    let text = "tag: &current v1 # live\nprevious: *current\n";
    let e = set_value("a.yaml", text, &sel("tag"), "v2").expect("anchored");
    assert_eq!(e.text, "tag: &current v2 # live\nprevious: *current\n");
    let e = set_value("t.yaml", "tag: !!str v1\n", &sel("tag"), "2").expect("tagged");
    assert_eq!(
        e.text, "tag: !!str 2\n",
        "!!str keeps a number-like value a string"
    );
    let e = set_value("t.yaml", "tag: &a !ver 'v1'\n", &sel("tag"), "v2").expect("both");
    assert_eq!(e.text, "tag: &a !ver 'v2'\n");
    let e = set_value("t.yaml", "n: !!int 7\n", &sel("n"), "v8").expect_err("!!int v8");
    assert!(matches!(e, EditError::TagMismatch { line: 1, .. }), "{e}");
    assert!(e.to_string().contains("tagged `!!int`"), "{e}");
}

#[test]
fn aliases_and_empty_values_are_refused_with_what_to_do() {
    let e = set_value("a.yaml", "a: &x v1\nb: *x\n", &sel("b"), "v2").expect_err("alias");
    assert_eq!(
        e.to_string(),
        "a.yaml:2: `b` is an alias (`*name`) of a value anchored elsewhere; point the selector at the anchored value (`&name`) instead; nothing was changed"
    );
    for text in ["tag:\nother: x\n", "tag: &a\nother: x\n"] {
        let e = set_value("e.yaml", text, &sel("tag"), "v2").expect_err(text);
        assert!(matches!(e, EditError::Empty { .. }), "{text}: {e}");
        assert!(e.to_string().contains("has no value"), "{e}");
    }
}
