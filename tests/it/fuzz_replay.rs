//! Replays every input under `fuzz/corpus/<target>/` (seeds and anything a fuzzing run kept)
//! through the same harnesses the cargo-fuzz targets run, so CI proves that no recorded input
//! panics. Fuzzing itself: `cd fuzz && cargo fuzz run -s none <target>` (see docs/fuzzing.md).

#[test]
fn every_corpus_input_replays_without_panic() {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut total = 0;
    for target in nminus::fuzzing::TARGETS {
        let dir = base.join(target);
        let mut n = 0;
        for e in fs_err::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{e}: every fuzz target needs a corpus folder"))
        {
            let p = e.unwrap().path();
            if p.is_file() {
                nminus::fuzzing::run(target, &fs_err::read(&p).unwrap());
                n += 1;
            }
        }
        assert!(n > 0, "fuzz/corpus/{target} has no inputs");
        total += n;
    }
    assert!(total >= nminus::fuzzing::TARGETS.len());
}

#[test]
fn fuzz_targets_are_wired() {
    let manifest =
        fs_err::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/Cargo.toml")).unwrap();
    for t in nminus::fuzzing::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "fuzz/Cargo.toml lacks [[bin]] {t}"
        );
        let src = fs_err::read_to_string(format!(
            "{}/fuzz/fuzz_targets/{t}.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(
            src.contains(&format!("run(\"{t}\"")),
            "fuzz target {t} must call nminus::fuzzing::run"
        );
    }
}
