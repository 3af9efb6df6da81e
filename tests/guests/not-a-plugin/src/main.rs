//! A WASI command: it exports `wasi:cli/run`, not a `ferry:plugin` world.

fn main() {
    println!("hello from a command component");
}
