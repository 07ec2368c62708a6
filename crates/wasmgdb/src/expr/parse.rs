//! Lexing and parsing gdb expressions (the C subset `print` takes).
//!
//! Precedence climbing over C's binary operators; postfix `.`, `->`, `[]`;
//! prefix `*`, `&`, `-`, `!`, `~`, `sizeof` and casts. Whether `(name)`
//! is a cast or a parenthesised variable depends on the program's types,
//! so the parser asks its caller.

use crate::error::{Result, bail};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Int(i128),
    Float(f64),
    Char(u8),
    Str(Vec<u8>),
    /// A variable, possibly `::`-qualified.
    Name(String),
    /// `$`, `$N`, `$$`, `$$N`, `$localN`, `$globalN`, `$stackN`, `$sp`, `$pc`.
    Dollar(String),
    Member(Box<Expr>, String),
    Arrow(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cast(TypeName, Box<Expr>),
    SizeofType(TypeName),
    /// `a@n`: `n` objects starting at `a`, as an array.
    Repeat(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Deref,
    AddrOf,
    Neg,
    Not,
    BitNot,
    Sizeof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

/// A type as written in a cast: `struct node`, `unsigned int`, `char` plus pointer stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    pub base: String,
    pub pointers: u32,
}

impl std::fmt::Display for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)?;
        if self.pointers > 0 {
            write!(f, " {}", "*".repeat(self.pointers as usize))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i128),
    Float(f64),
    Char(u8),
    Str(Vec<u8>),
    Ident(String),
    Dollar(String),
    Punct(&'static str),
}

const PUNCTS: [&str; 33] = [
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "::", ".", "[", "]", "(", ")", "*", "&",
    "+", "-", "/", "%", "<", ">", "!", "~", "^", "|", ",", "@", "=", "?", ":", "{",
];

fn escape(c: u8) -> u8 {
    match c {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'0' => 0,
        b'a' => 7,
        b'b' => 8,
        b'e' => 27,
        other => other,
    }
}

fn lex(text: &str) -> Result<Vec<Tok>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_')
            {
                // Exponent signs: 1e+20.
                if (bytes[i] == b'e' || bytes[i] == b'E')
                    && !text[start..i].starts_with("0x")
                    && i + 1 < bytes.len()
                    && (bytes[i + 1] == b'+' || bytes[i + 1] == b'-')
                {
                    i += 2;
                    continue;
                }
                i += 1;
            }
            out.push(number(&text[start..i])?);
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(text[start..i].to_string()));
            continue;
        }
        if c == b'$' {
            let start = i + 1;
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            out.push(Tok::Dollar(text[start..i].to_string()));
            continue;
        }
        if c == b'\'' {
            let (value, len) = match bytes.get(i + 1..) {
                Some([b'\\', e, b'\'', ..]) => (escape(*e), 4),
                Some([ch, b'\'', ..]) => (*ch, 3),
                _ => bail!("Unmatched single quote."),
            };
            out.push(Tok::Char(value));
            i += len;
            continue;
        }
        if c == b'"' {
            let mut s = Vec::new();
            i += 1;
            loop {
                match bytes.get(i) {
                    None => bail!("Unterminated string in expression."),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let Some(e) = bytes.get(i + 1) else {
                            bail!("Unterminated string in expression.");
                        };
                        s.push(escape(*e));
                        i += 2;
                    }
                    Some(b) => {
                        s.push(*b);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Tok::Str(s));
            continue;
        }
        match PUNCTS.iter().find(|p| text[i..].starts_with(**p)) {
            Some(p) => {
                out.push(Tok::Punct(p));
                i += p.len();
            }
            None => bail!(
                "Invalid character '{}' in expression.",
                &text[i..].chars().next().unwrap_or('?')
            ),
        }
    }
    Ok(out)
}

fn number(text: &str) -> Result<Tok> {
    let lower = text.to_ascii_lowercase();
    let digits = lower.trim_end_matches(['u', 'l']);
    let parsed = if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        i128::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse::<i128>().ok()
    };
    if let Some(v) = parsed {
        return Ok(Tok::Int(v));
    }
    match lower.trim_end_matches('f').parse::<f64>() {
        Ok(f) => Ok(Tok::Float(f)),
        Err(_) => bail!("Invalid number \"{text}\"."),
    }
}

/// Whether a name denotes a type, for telling casts from parentheses.
pub trait TypeOracle {
    fn is_type(&self, name: &str) -> bool;
}

const C_TYPE_WORDS: [&str; 12] = [
    "unsigned", "signed", "int", "char", "short", "long", "float", "double", "void", "_Bool",
    "const", "volatile",
];

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    types: &'a dyn TypeOracle,
}

/// Parses a whole expression.
pub fn parse(text: &str, types: &dyn TypeOracle) -> Result<Expr> {
    let toks = lex(text)?;
    if toks.is_empty() {
        bail!("Argument required (expression to compute).");
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        types,
    };
    let expr = parser.binary(0)?;
    if let Some(tok) = parser.peek() {
        bail!(
            "A syntax error in expression, near `{}'.",
            parser.rest_text(tok)
        );
    }
    Ok(expr)
}

/// Parses a type name on its own (`ptype struct node`, `whatis int *`),
/// or `None` when the text is not a type.
pub fn parse_type_name(text: &str, types: &dyn TypeOracle) -> Option<TypeName> {
    let toks = lex(text).ok()?;
    let mut parser = Parser {
        toks,
        pos: 0,
        types,
    };
    let ty = parser.type_name()?;
    parser.peek().is_none().then_some(ty)
}

fn binary_op(tok: &Tok) -> Option<(BinOp, u8)> {
    let Tok::Punct(p) = tok else { return None };
    Some(match *p {
        "||" => (BinOp::Or, 1),
        "&&" => (BinOp::And, 2),
        "|" => (BinOp::BitOr, 3),
        "^" => (BinOp::BitXor, 4),
        "&" => (BinOp::BitAnd, 5),
        "==" => (BinOp::Eq, 6),
        "!=" => (BinOp::Ne, 6),
        "<" => (BinOp::Lt, 7),
        ">" => (BinOp::Gt, 7),
        "<=" => (BinOp::Le, 7),
        ">=" => (BinOp::Ge, 7),
        "<<" => (BinOp::Shl, 8),
        ">>" => (BinOp::Shr, 8),
        "+" => (BinOp::Add, 9),
        "-" => (BinOp::Sub, 9),
        "*" => (BinOp::Mul, 10),
        "/" => (BinOp::Div, 10),
        "%" => (BinOp::Rem, 10),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn rest_text(&self, _tok: &Tok) -> String {
        self.toks[self.pos..]
            .iter()
            .map(|t| match t {
                Tok::Int(v) => v.to_string(),
                Tok::Float(f) => f.to_string(),
                Tok::Char(c) => format!("'{}'", char::from(*c)),
                Tok::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
                Tok::Ident(s) => s.clone(),
                Tok::Dollar(s) => format!("${s}"),
                Tok::Punct(p) => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(p)) if *p == punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<()> {
        if self.eat(punct) {
            return Ok(());
        }
        match self.peek() {
            Some(t) => bail!(
                "A syntax error in expression, near `{}'.",
                self.rest_text(&t.clone())
            ),
            None => bail!("A syntax error in expression, near `'."),
        }
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        loop {
            if min_prec <= 11 && self.eat("@") {
                let rhs = self.unary()?;
                lhs = Expr::Repeat(Box::new(lhs), Box::new(rhs));
                continue;
            }
            let Some((op, prec)) = self.peek().and_then(binary_op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let rhs = self.binary(prec + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    /// A type name at the cursor, consuming it only when it is one.
    fn type_name(&mut self) -> Option<TypeName> {
        let start = self.pos;
        let mut words: Vec<String> = Vec::new();
        while let Some(Tok::Ident(word)) = self.peek() {
            let word = word.clone();
            let keyword = matches!(word.as_str(), "struct" | "union" | "enum" | "class");
            let c_word = C_TYPE_WORDS.contains(&word.as_str());
            if words.is_empty()
                || keyword
                || c_word
                || words
                    .last()
                    .is_some_and(|w| matches!(w.as_str(), "struct" | "union" | "enum" | "class"))
            {
                words.push(word);
                self.pos += 1;
                // Qualified names: a::b::C.
                while self.eat("::") {
                    match self.peek() {
                        Some(Tok::Ident(part)) => {
                            let part = part.clone();
                            if let Some(last) = words.last_mut() {
                                last.push_str("::");
                                last.push_str(&part);
                            }
                            self.pos += 1;
                        }
                        _ => {
                            self.pos = start;
                            return None;
                        }
                    }
                }
                // A program type name is one word; C's can be several.
                let c_type = words
                    .first()
                    .is_some_and(|w| C_TYPE_WORDS.contains(&w.as_str()));
                if !keyword && !c_word && !c_type {
                    break;
                }
            } else {
                break;
            }
        }
        let words: Vec<String> = words
            .into_iter()
            .filter(|w| w != "const" && w != "volatile")
            .collect();
        let base = words.join(" ");
        let is_type = !base.is_empty()
            && (words.iter().all(|w| C_TYPE_WORDS.contains(&w.as_str()))
                || matches!(
                    words.first().map(String::as_str),
                    Some("struct" | "union" | "enum" | "class")
                )
                || self.types.is_type(&base));
        if !is_type {
            self.pos = start;
            return None;
        }
        let mut pointers = 0;
        while self.eat("*") || self.eat("&") {
            pointers += 1;
        }
        Some(TypeName { base, pointers })
    }

    fn unary(&mut self) -> Result<Expr> {
        let Some(tok) = self.peek().cloned() else {
            bail!("A syntax error in expression, near `'.");
        };
        if let Tok::Punct(p) = tok {
            let op = match p {
                "*" => Some(UnOp::Deref),
                "&" => Some(UnOp::AddrOf),
                "-" => Some(UnOp::Neg),
                "!" => Some(UnOp::Not),
                "~" => Some(UnOp::BitNot),
                "+" => None,
                "(" => {
                    // A cast, or a parenthesised expression.
                    let save = self.pos;
                    self.pos += 1;
                    if let Some(ty) = self.type_name()
                        && self.eat(")")
                    {
                        let operand = self.unary()?;
                        return Ok(Expr::Cast(ty, Box::new(operand)));
                    }
                    self.pos = save + 1;
                    let inner = self.binary(0)?;
                    self.expect(")")?;
                    return self.postfix(inner);
                }
                _ => bail!(
                    "A syntax error in expression, near `{}'.",
                    self.rest_text(&tok)
                ),
            };
            self.pos += 1;
            let operand = self.unary()?;
            return Ok(match op {
                Some(op) => Expr::Unary(op, Box::new(operand)),
                None => operand,
            });
        }
        if tok == Tok::Ident("sizeof".into()) {
            self.pos += 1;
            if self.eat("(") {
                if let Some(ty) = self.type_name() {
                    self.expect(")")?;
                    return Ok(Expr::SizeofType(ty));
                }
                let inner = self.binary(0)?;
                self.expect(")")?;
                return Ok(Expr::Unary(UnOp::Sizeof, Box::new(inner)));
            }
            let operand = self.unary()?;
            return Ok(Expr::Unary(UnOp::Sizeof, Box::new(operand)));
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(tok) = self.peek().cloned() else {
            bail!("A syntax error in expression, near `'.");
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Int(v) => Expr::Int(v),
            Tok::Float(f) => Expr::Float(f),
            Tok::Char(c) => Expr::Char(c),
            Tok::Str(s) => Expr::Str(s),
            Tok::Dollar(d) => Expr::Dollar(d),
            Tok::Ident(mut name) => {
                while self.eat("::") {
                    match self.peek().cloned() {
                        Some(Tok::Ident(part)) => {
                            name.push_str("::");
                            name.push_str(&part);
                            self.pos += 1;
                        }
                        _ => bail!("A syntax error in expression, near `{}'.", name),
                    }
                }
                Expr::Name(name)
            }
            Tok::Punct(_) => {
                self.pos -= 1;
                bail!(
                    "A syntax error in expression, near `{}'.",
                    self.rest_text(&tok)
                );
            }
        })
    }

    fn postfix(&mut self, mut expr: Expr) -> Result<Expr> {
        loop {
            if self.eat(".") {
                expr = Expr::Member(Box::new(expr), self.field()?);
            } else if self.eat("->") {
                expr = Expr::Arrow(Box::new(expr), self.field()?);
            } else if self.eat("[") {
                let index = self.binary(0)?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn field(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            // Tuple fields: `pair.0` (Rust) or `__0`.
            Some(Tok::Int(v)) => {
                self.pos += 1;
                Ok(v.to_string())
            }
            _ => bail!(
                "A syntax error in expression, near `{}'.",
                self.rest_text(&Tok::Punct("."))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Types;
    impl TypeOracle for Types {
        fn is_type(&self, name: &str) -> bool {
            name == "item_t"
        }
    }

    fn p(text: &str) -> Expr {
        match parse(text, &Types) {
            Ok(e) => e,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn precedence_and_postfix() {
        assert_eq!(
            p("1 + 2 * 3"),
            Expr::Binary(
                BinOp::Add,
                Box::new(Expr::Int(1)),
                Box::new(Expr::Binary(
                    BinOp::Mul,
                    Box::new(Expr::Int(2)),
                    Box::new(Expr::Int(3))
                ))
            )
        );
        assert_eq!(
            p("*list->next"),
            Expr::Unary(
                UnOp::Deref,
                Box::new(Expr::Arrow(
                    Box::new(Expr::Name("list".into())),
                    "next".into()
                ))
            )
        );
        assert_eq!(
            p("values[1+1]"),
            Expr::Index(
                Box::new(Expr::Name("values".into())),
                Box::new(Expr::Binary(
                    BinOp::Add,
                    Box::new(Expr::Int(1)),
                    Box::new(Expr::Int(1))
                ))
            )
        );
        assert_eq!(p("crash::COUNTER"), Expr::Name("crash::COUNTER".into()));
        assert_eq!(p("$local3"), Expr::Dollar("local3".into()));
        assert_eq!(p("1e+20"), Expr::Float(1e20));
        assert_eq!(p("'B'"), Expr::Char(b'B'));
    }

    #[test]
    fn casts_and_parentheses() {
        assert_eq!(
            p("(struct node *)0x1010"),
            Expr::Cast(
                TypeName {
                    base: "struct node".into(),
                    pointers: 1
                },
                Box::new(Expr::Int(0x1010))
            )
        );
        assert_eq!(
            p("(unsigned int)x"),
            Expr::Cast(
                TypeName {
                    base: "unsigned int".into(),
                    pointers: 0
                },
                Box::new(Expr::Name("x".into()))
            )
        );
        assert_eq!(
            p("(item_t*)p"),
            Expr::Cast(
                TypeName {
                    base: "item_t".into(),
                    pointers: 1
                },
                Box::new(Expr::Name("p".into()))
            )
        );
        assert_eq!(p("(x)"), Expr::Name("x".into()));
        assert_eq!(
            p("(x).y"),
            Expr::Member(Box::new(Expr::Name("x".into())), "y".into())
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A small deterministic generator over expression-ish characters.
        let alphabet: Vec<char> = "ab_1x0'\"\\()[]*&.->+/%<=!~^|,@$: \u{e9}\u{2135}"
            .chars()
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 12) as usize;
            let mut text = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = parse(&text, &Types);
            let _ = parse_type_name(&text, &Types);
        }
    }

    #[test]
    fn errors_are_reported_not_panics() {
        for bad in [
            "", "1 +", "(1", "a[", "'x", "\"abc", "a.", "#", "))", "a->", "1 2",
        ] {
            assert!(parse(bad, &Types).is_err(), "{bad:?} should not parse");
        }
    }
}
