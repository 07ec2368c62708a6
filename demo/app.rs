//! demo/app.rs - the walk-through case for wasmgdb.
//!
//! An online shop totals an order. One line item has an absurd quantity, and
//! the checked `u32` multiplication in `line_total` panics with
//! "attempt to multiply with overflow" three calls below `main`.
//! Built in debug mode with DWARF by fixtures/build.sh (rustc 1.63, wasm32-wasi).
//! Comments of the form "@line: NAME" mark lines that demo/expected.json
//! refers to; fixtures/gen-manifest.py resolves them to line numbers.

struct LineItem {
    sku: &'static str,
    quantity: u32,
    unit_price_cents: u32,
}

struct Order {
    id: u32,
    customer: &'static str,
    items: Vec<LineItem>,
}

#[inline(never)]
fn line_total(item: &LineItem) -> u32 {
    item.quantity * item.unit_price_cents // @line: demo-multiply
}

#[inline(never)]
fn order_total(order: &Order) -> u32 {
    let mut subtotal: u32 = 0;
    for (index, item) in order.items.iter().enumerate() {
        let line = line_total(item); // @line: demo-order-total
        println!("  line {}: {} x{} = {} cents", index, item.sku, item.quantity, line);
        subtotal += line;
    }
    subtotal
}

#[inline(never)]
fn checkout(order: &Order, customer: &str) -> String {
    println!("order {} for {}", order.id, customer);
    let total = order_total(order); // @line: demo-checkout
    format!("{} pays {}.{:02}", customer, total / 100, total % 100)
}

fn main() {
    let order = Order {
        id: 1042,
        customer: "Ada",
        items: vec![
            LineItem { sku: "PEN-01", quantity: 4, unit_price_cents: 499 },
            LineItem { sku: "NOTE-A5", quantity: 10, unit_price_cents: 250 },
            LineItem { sku: "LAMP-200", quantity: 250_000, unit_price_cents: 19_999 },
        ],
    };
    let receipt = checkout(&order, order.customer); // @line: demo-main
    println!("{}", receipt);
}
