//! Throughput of `fold` + `PhraseSet::find` on typical message bodies (std only: no criterion).
//!
//! `cargo bench -p phishgate-text` prints messages/s and MB/s for each sample on one thread.
//! The hot-path budget is 5,000+ messages/s per core for the whole analysis, so text folding and
//! matching must stay well below 200 µs for a few KiB of text.

use std::hint::black_box;
use std::time::{Duration, Instant};

use phishgate_text::{fold, PhraseSet};

const LURES: &str = include_str!("../../core/data/keywords/lures.txt");
const BRANDS: &str = include_str!("../../core/data/keywords/brands.txt");

const VI_LURE: &str = "Kính gửi Quý khách hàng,\n\nHộp thư của bạn đã vượt quá dung lượng lưu trữ \
và sẽ bị tạm ngưng trong vòng 24 giờ. Để tiếp tục sử dụng, vui lòng xác minh tài khoản bằng cách \
nhấp vào liên kết bên dưới và cung cấp tên đăng nhập và mật khẩu của bạn.\n\nhttps://mail-laocai.example/verify\n\n\
Nếu bạn không xác minh, tài khoản sẽ bị xóa vĩnh viễn.\nTrân trọng,\nBan quản trị hệ thống Zimbra\n";

const VI_OFFICIAL: &str = "Kính gửi: Các cơ quan, đơn vị trên địa bàn tỉnh.\n\nThực hiện Kế hoạch số \
123/KH-UBND ngày 15/3/2024 của Ủy ban nhân dân tỉnh về chuyển đổi số, Sở Thông tin và Truyền thông \
đề nghị các cơ quan, đơn vị báo cáo kết quả triển khai hệ thống thư điện tử công vụ, tình hình sử \
dụng chữ ký số và các dịch vụ công trực tuyến mức độ 4. Báo cáo gửi về Sở trước ngày 30/6/2024 \
theo mẫu đính kèm.\n\n> Trong quá trình thực hiện, nếu có vướng mắc, đề nghị liên hệ Phòng Bưu \
chính, Viễn thông và Công nghệ thông tin, điện thoại 0214.3840.xxx để được hướng dẫn.\n\nTrân trọng./.\n";

const EN_NEWSLETTER: &str = "Hello team,\n\nThis week in the newsletter: our new office opening, \
the quarterly results, and a reminder about the security training. Please access the training \
portal before Friday; users who have not completed the process will receive another reminder. \
We never ask for your password by email. If you receive a suspicious message, report it to the \
helpdesk. Thanks to everyone who joined the meeting on Tuesday!\n\nBest regards,\nCommunications\n";

const OBFUSCATED: &str =
    "T.h.ô.n.g b.á.o: t\u{200B}ài khоản của bạn sẽ bị khoas. Vui lòng xacs minh \
taif khoanr ngay tại ｗｅｂｍａｉｌ: x a c  m i n h  t a i  k h o a n. Ta2i khoa3n se4 bi5 xo1a.\n";

fn bench(name: &str, body: &str, lures: &PhraseSet, brands: &PhraseSet) {
    // ~4 KiB per message, like a typical plain-text body.
    let text = body.repeat(4096 / body.len() + 1);
    let fixed: Option<u64> = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut n = 0u64;
    let start = Instant::now();
    while fixed.map_or(start.elapsed() < Duration::from_millis(800), |f| n < f) {
        for _ in 0..50 {
            let folded = fold(black_box(&text));
            black_box(lures.find(&folded));
            black_box(brands.find(&folded));
            n += 1;
        }
    }
    let per = start.elapsed().as_secs_f64() / n as f64;
    // The two halves, to see where the time goes.
    let folded = fold(&text);
    let fold_per = time(|| {
        black_box(fold(black_box(&text)));
    });
    let find_per = time(|| {
        black_box(lures.find(black_box(&folded)));
        black_box(brands.find(black_box(&folded)));
    });
    println!(
        "{name:<14} {:>5} B  {:>7.1} µs/msg  {:>7.0} msg/s  {:>5.1} MB/s  (fold {:>5.1} µs, find {:>5.1} µs)",
        text.len(),
        per * 1e6,
        1.0 / per,
        text.len() as f64 / per / 1e6,
        fold_per * 1e6,
        find_per * 1e6,
    );
}

/// Seconds per call of `f`, over about half a second (or `BENCH_ITERS` calls, for stable
/// instruction counts under `perf stat`).
fn time(mut f: impl FnMut()) -> f64 {
    let fixed: Option<u64> = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut n = 0u64;
    let start = Instant::now();
    while fixed.map_or(start.elapsed() < Duration::from_millis(500), |f| n < f) {
        for _ in 0..50 {
            f();
            n += 1;
        }
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let (Ok(lures), Ok(brands)) = (PhraseSet::parse(LURES), PhraseSet::parse(BRANDS)) else {
        eprintln!("the keyword lists do not parse: run the unit tests");
        std::process::exit(1);
    };
    let start = Instant::now();
    for _ in 0..10 {
        black_box(PhraseSet::parse(LURES).ok());
    }
    println!(
        "parse lures.txt: {:.2} ms",
        start.elapsed().as_secs_f64() * 100.0
    );
    for (name, body) in [
        ("vi_lure", VI_LURE),
        ("vi_official", VI_OFFICIAL),
        ("en_newsletter", EN_NEWSLETTER),
        ("obfuscated", OBFUSCATED),
    ] {
        bench(name, body, &lures, &brands);
    }
}
