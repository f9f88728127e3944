//! The README's "Writing an appliance" example is `apps/echo`, verbatim: the app is built with
//! the workspace, and this keeps the README from drifting away from it.

#[test]
fn readme_example_is_apps_echo() {
    let readme = include_str!("../../README.md");
    let app = include_str!("../../apps/echo/src/main.rs");
    let section = readme
        .split("## Writing an appliance")
        .nth(1)
        .expect("README has a \"Writing an appliance\" section");
    let code = section
        .split("```rust\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the section has a rust block");
    assert_eq!(code, app, "README example and apps/echo/src/main.rs differ");
    assert!(app.lines().count() < 40, "the example stays under 40 lines");
}
