fn main() {
    let path = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(5);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let d = alb_findings::diagnose(std::fs::File::open(&path).unwrap(), &Default::default())
            .unwrap();
        eprintln!("{} lines {:.1} ms", d.lines, t.elapsed().as_secs_f64() * 1e3);
    }
}
