//! Scores against values printed by Evidently 0.7.23's own stattest functions (SciPy 1.17.1,
//! NumPy 2.4) for the same inputs.

use super::drift::{Current, DriftError, DriftOptions, compare};
use super::profile::{Profile, Role};
use super::sample::{Aligned, Sample};
use super::stattest::Method;
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};

fn floats(name: &str, v: Vec<f64>) -> Column {
    Column {
        name: name.into(),
        data: ColumnData::Float64(v),
        nulls: None,
    }
}

fn ints(name: &str, v: Vec<i64>) -> Column {
    Column {
        name: name.into(),
        data: ColumnData::Int64(v),
        nulls: None,
    }
}

fn text(name: &str, s: &str, times: usize) -> Column {
    let v: Vec<String> = s.repeat(times).chars().map(String::from).collect();
    Column {
        name: name.into(),
        data: ColumnData::Text(v),
        nulls: None,
    }
}

fn aligned(a: &Column, b: &Column) -> Aligned {
    Aligned::of(&Sample::of(a).0, &Sample::of(b).0).expect("same kind")
}

fn reference() -> Vec<f64> {
    (0..60).map(|i| f64::from((i * 37) % 101) / 7.0).collect()
}

fn current() -> Vec<f64> {
    (0..45)
        .map(|i| f64::from((i * 53) % 97) / 6.0 + 1.0)
        .collect()
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "got {got:e}, Evidently gives {want:e}"
    );
}

#[test]
fn numerical_scores_equal_evidentlys() {
    let d = aligned(&floats("x", reference()), &floats("x", current()));
    close(
        Method::Ks.score(&d, false).unwrap(),
        0.355_048_086_667_721_25,
    );
    close(
        Method::Wasserstein.score(&d, false).unwrap(),
        0.346_943_261_500_668_9,
    );
    close(
        Method::Jensenshannon.score(&d, false).unwrap(),
        0.269_137_701_439_335_4,
    );
    close(
        Method::Psi.score(&d, false).unwrap(),
        1.416_938_108_569_535_6,
    );
    close(
        Method::KlDiv.score(&d, false).unwrap(),
        0.223_729_953_268_488_88,
    );
}

#[test]
fn ks_of_equal_sizes_uses_the_square_method() {
    let eq = |shift: f64| -> Vec<f64> {
        (0..60)
            .map(|i| f64::from((i * 29) % 89) / 6.5 + shift)
            .collect()
    };
    let d = aligned(&floats("x", reference()), &floats("x", eq(0.0)));
    close(
        Method::Ks.score(&d, false).unwrap(),
        0.999_999_707_490_567_1,
    );
    let d = aligned(&floats("x", reference()), &floats("x", eq(2.0)));
    close(
        Method::Ks.score(&d, false).unwrap(),
        0.267_120_277_618_783_6,
    );
}

#[test]
fn ks_past_ten_thousand_values_uses_the_asymptotic_distribution() {
    let r: Vec<f64> = (0..800).map(|i| f64::from(i) / 800.0).collect();
    let c = |power: f64| -> Vec<f64> {
        (0..12000)
            .map(|i| (f64::from(i) / 12000.0).powf(power))
            .collect()
    };
    let d = aligned(&floats("x", r.clone()), &floats("x", c(1.3)));
    let p = Method::Ks.score(&d, false).unwrap();
    assert!((p - 1.688_106_655_309_66e-6).abs() < 1e-12, "{p:e}");
    // Where SciPy uses Pelz and Good's expansion, so does Ferry.
    let d = aligned(&floats("x", r), &floats("x", c(1.12)));
    let p = Method::Ks.score(&d, false).unwrap();
    assert!((p - 0.142_290_337_579_435_32).abs() < 1e-12, "{p}");
}

#[test]
fn integer_columns_take_numpys_integer_bins() {
    let r = ints("n", (0..90).map(|i| (i * 7) % 30).collect());
    let c = ints("n", (0..70).map(|i| (i * 11) % 33).collect());
    close(
        Method::Jensenshannon.score(&aligned(&r, &c), true).unwrap(),
        0.564_921_788_623_344_4,
    );
}

#[test]
fn categorical_scores_equal_evidentlys() {
    let r = text("c", "aabbbcccdde", 5);
    let mut c = text("c", "abbcccdddee", 4);
    close(
        Method::Chisquare.score(&aligned(&r, &c), false).unwrap(),
        0.053_286_854_458_472_84,
    );
    if let ColumnData::Text(v) = &mut c.data {
        v.push("f".into());
    }
    let d = aligned(&r, &c);
    close(Method::Chisquare.score(&d, false).unwrap(), 0.0);
    close(
        Method::Jensenshannon.score(&d, false).unwrap(),
        0.179_124_525_231_931_23,
    );
    close(
        Method::Psi.score(&d, false).unwrap(),
        0.317_569_029_807_938_8,
    );
    let b = |t: usize, f: usize| Column {
        name: "b".into(),
        data: ColumnData::Boolean([vec![true; t], vec![false; f]].concat()),
        nulls: None,
    };
    // SciPy's normal CDF (Cephes) and statrs' erfc differ in the last digits; 1 − CDF
    // magnifies that to about 1e-11.
    let z = Method::Z
        .score(&aligned(&b(30, 70), &b(45, 55)), false)
        .unwrap();
    assert!((z - 0.028_459_736_916_310_65).abs() < 1e-10, "{z:e}");
    let r = ints("k", vec![1, 2, 3, 1, 2, 3, 3]);
    let c = ints("k", vec![1, 1, 1, 2, 3]);
    close(
        Method::Chisquare.score(&aligned(&r, &c), false).unwrap(),
        0.291_319_891_133_471,
    );
}

#[test]
fn the_default_method_follows_evidently() {
    use super::sample::ColumnKind::{Categorical, Numerical};
    assert_eq!(Method::default_for(Numerical, 1000, 6), Method::Ks);
    assert_eq!(Method::default_for(Numerical, 1000, 5), Method::Chisquare);
    assert_eq!(Method::default_for(Numerical, 1000, 2), Method::Z);
    assert_eq!(Method::default_for(Categorical, 1000, 3), Method::Chisquare);
    assert_eq!(Method::default_for(Categorical, 999, 2), Method::Z);
    assert_eq!(Method::default_for(Numerical, 1001, 6), Method::Wasserstein);
    assert_eq!(
        Method::default_for(Numerical, 1001, 5),
        Method::Jensenshannon
    );
    assert_eq!(
        Method::default_for(Categorical, 5000, 2),
        Method::Jensenshannon
    );
}

fn batch(columns: Vec<Column>) -> Batch {
    let n = match &columns[0].data {
        ColumnData::Float64(v) => v.len(),
        ColumnData::Int64(v) => v.len(),
        ColumnData::Boolean(v) => v.len(),
        ColumnData::Text(v) => v.len(),
    };
    Batch {
        num_rows: n as u32,
        columns,
    }
}

#[test]
fn a_report_names_its_columns_and_refuses_bad_current_data() {
    let ids: Vec<String> = (0..60).map(|i| format!("id{i}")).collect();
    let mut profile = Profile::new();
    profile.add(
        &batch(vec![
            floats("x", reference()),
            Column {
                name: "id".into(),
                data: ColumnData::Text(ids),
                nulls: None,
            },
        ]),
        Role::Input,
        &[],
    );
    let bytes = profile.to_bytes();
    let profile = Profile::parse(&bytes).unwrap();
    let cols: Vec<_> = profile.of_role(Role::Input).collect();

    let run =
        |b: Batch, options: &DriftOptions| compare("test", &[(&cols, Current::Batch(&b))], options);

    let mut x = current();
    x.extend([f64::NAN, f64::INFINITY]);
    let report = run(
        batch(vec![
            floats("x", x),
            text("id", "abcdefghijklmnopqrstuvwxyzabcdefghi", 1),
        ]),
        &DriftOptions::default(),
    )
    .unwrap();
    assert_eq!(report.columns.len(), 1);
    let c = &report.columns[0];
    assert_eq!(
        (c.method, c.current_missing, c.drifted),
        (Method::Ks, 2, false)
    );
    close(c.score, 0.355_048_086_667_721_25);
    assert_eq!(report.skipped[0].column, "id");
    assert!(!report.dataset_drift);
    let page = super::render::html(&report);
    assert!(page.contains("<svg") && page.contains("No dataset drift"));

    let missing = run(
        batch(vec![floats("y", current())]),
        &DriftOptions::default(),
    );
    assert!(
        matches!(&missing, Err(DriftError::MissingColumn { column, .. }) if column == "x"),
        "{missing:?}"
    );
    let wrong = run(
        batch(vec![text("x", "abc", 3), text("id", "abcdefghi", 1)]),
        &DriftOptions::default(),
    );
    let message = wrong.unwrap_err().to_string();
    assert!(
        message.contains("`x`") && message.contains("numerical"),
        "{message}"
    );
    let options = DriftOptions {
        column_methods: [("nope".to_string(), Method::Psi)].into(),
        ..DriftOptions::default()
    };
    let unknown = run(batch(vec![floats("x", current())]), &options);
    assert!(matches!(unknown, Err(DriftError::UnknownColumn { .. })));
    let options = DriftOptions {
        method: Some(Method::Chisquare),
        threshold: Some(f64::NAN),
        ..DriftOptions::default()
    };
    assert!(matches!(
        run(batch(vec![floats("x", current())]), &options),
        Err(DriftError::Options(_))
    ));
    assert!(Profile::parse(b"{\"format\":\"other\",\"columns\":[]}").is_err());
}
