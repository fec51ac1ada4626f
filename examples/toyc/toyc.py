#!/usr/bin/env python3
"""toyc: a compiler for Toy, a tiny language, to pvm assembly (.pva).

This is the runnable example of docs/backend-tutorial.md. It is one file
in three parts: a lexer, a recursive-descent parser that builds a tree of
tuples, and a code generator that walks the tree and prints .pva text,
which `pvmc prog.pva -o prog.pbc` assembles (and verifies) into bytecode.

    python3 toyc.py prog.toy -o prog.pva     compile
    python3 toyc.py --bug prog.toy ...       the same, with a deliberate bug
                                             (an expression statement's value
                                             is not popped) to show what the
                                             verifier says

Toy:
    program   = { stmt }
    stmt      = "let" NAME "=" expr ";" | NAME "=" expr ";" | expr ";"
              | "fn" NAME "(" params ")" block
              | "if" expr block [ "else" ( block | ifstmt ) ]
              | "while" expr block | "return" [ expr ] ";"
              | "throw" expr ";" | "try" block "catch" NAME block | block
    block     = "{" { stmt } "}"
    expr      = or ;  or = and { "||" and } ;  and = cmp { "&&" cmp }
    cmp       = sum [ ("=="|"!="|"<"|"<="|">"|">=") sum ]
    sum       = term { ("+"|"-") term } ;  term = unary { ("*"|"/"|"%") unary }
    unary     = ("-"|"!") unary | call
    call      = primary { "(" args ")" | "[" expr "]" }
    primary   = INT | STRING | "true" | "false" | "nil" | NAME
              | "[" args "]" | "fn" "(" params ")" block | "(" expr ")"
Top-level `let`s and `fn`s are globals of the module; inside a function
`let` makes a local, and a nested `fn` captures the variables it uses
from enclosing functions as upvalues. Names that are none of these are
pvm's built-ins (`print`, `len`, `str`, ...).
"""
import re
import sys

# ---------------------------------------------------------------- lexer

TOKEN = re.compile(r'''
    (?P<space>\s+|//[^\n]*)
  | (?P<int>\d+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>=!(){}\[\],;])
''', re.VERBOSE)
KEYWORDS = {"let", "fn", "if", "else", "while", "return", "throw", "try",
            "catch", "true", "false", "nil"}


class CompileError(Exception):
    pass


def lex(src):
    """A list of (kind, text, line); kind is int, string, name, a keyword
    or an operator's own text."""
    tokens, pos, line = [], 0, 1
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            raise CompileError(f"{line}: unexpected character {src[pos]!r}")
        kind, text = m.lastgroup, m.group()
        if kind == "name" and text in KEYWORDS:
            kind = text
        elif kind == "op":
            kind = text
        if kind != "space":
            tokens.append((kind, text, line))
        line += text.count("\n")
        pos = m.end()
    tokens.append(("eof", "", line))
    return tokens

# --------------------------------------------------------------- parser
# The tree is tuples: (kind, line, ...fields).


class Parser:
    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self, kind):
        return self.t[self.i][0] == kind

    def next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, kind):
        if not self.peek(kind):
            k, text, line = self.t[self.i]
            raise CompileError(f"{line}: expected '{kind}', found '{text or k}'")
        return self.next()

    def line(self):
        return self.t[self.i][2]

    def program(self):
        body = []
        while not self.peek("eof"):
            body.append(self.stmt())
        return body

    def block(self):
        self.expect("{")
        body = []
        while not self.peek("}"):
            body.append(self.stmt())
        self.expect("}")
        return ("block", self.line(), body)

    def params(self):
        self.expect("(")
        names = []
        while not self.peek(")"):
            names.append(self.expect("name")[1])
            if not self.peek(")"):
                self.expect(",")
        self.expect(")")
        return names

    def stmt(self):
        line = self.line()
        if self.peek("let"):
            self.next()
            name = self.expect("name")[1]
            self.expect("=")
            value = self.expr()
            self.expect(";")
            return ("let", line, name, value)
        if self.peek("fn") and self.t[self.i + 1][0] == "name":
            self.next()
            name = self.expect("name")[1]
            return ("let", line, name, ("fn", line, name, self.params(), self.block()))
        if self.peek("if"):
            return self.ifstmt()
        if self.peek("while"):
            self.next()
            return ("while", line, self.expr(), self.block())
        if self.peek("return"):
            self.next()
            value = ("nil", line) if self.peek(";") else self.expr()
            self.expect(";")
            return ("return", line, value)
        if self.peek("throw"):
            self.next()
            value = self.expr()
            self.expect(";")
            return ("throw", line, value)
        if self.peek("try"):
            self.next()
            body = self.block()
            self.expect("catch")
            name = self.expect("name")[1]
            return ("try", line, body, name, self.block())
        if self.peek("{"):
            return self.block()
        if self.peek("name") and self.t[self.i + 1][0] == "=":
            name = self.next()[1]
            self.next()
            value = self.expr()
            self.expect(";")
            return ("assign", line, name, value)
        value = self.expr()
        self.expect(";")
        return ("expr", line, value)

    def ifstmt(self):
        line = self.expect("if")[2]
        cond, then, other = self.expr(), self.block(), None
        if self.peek("else"):
            self.next()
            other = self.ifstmt() if self.peek("if") else self.block()
        return ("if", line, cond, then, other)

    def binary(self, ops, operand):
        left = operand()
        while self.t[self.i][0] in ops:
            op, _, line = self.next()
            left = ("binary", line, op, left, operand())
        return left

    def expr(self):
        return self.binary({"||"}, lambda: self.binary({"&&"}, self.cmp))

    def cmp(self):
        left = self.sum()
        if self.t[self.i][0] in ("==", "!=", "<", "<=", ">", ">="):
            op, _, line = self.next()
            left = ("binary", line, op, left, self.sum())
        return left

    def sum(self):
        return self.binary({"+", "-"}, self.term)

    def term(self):
        return self.binary({"*", "/", "%"}, self.unary)

    def unary(self):
        if self.t[self.i][0] in ("-", "!"):
            op, _, line = self.next()
            return ("unary", line, op, self.unary())
        return self.call()

    def args(self, close):
        args = []
        while not self.peek(close):
            args.append(self.expr())
            if not self.peek(close):
                self.expect(",")
        self.expect(close)
        return args

    def call(self):
        e = self.primary()
        while self.peek("(") or self.peek("["):
            kind, _, line = self.next()
            if kind == "(":
                e = ("call", line, e, self.args(")"))
            else:
                index = self.expr()
                self.expect("]")
                e = ("index", line, e, index)
        return e

    def primary(self):
        kind, text, line = self.next()
        if kind == "int":
            return ("int", line, int(text))
        if kind == "string":
            return ("string", line, text)      # kept quoted: .pva uses the same escapes
        if kind in ("true", "false", "nil"):
            return (kind, line)
        if kind == "name":
            return ("name", line, text)
        if kind == "[":
            return ("array", line, self.args("]"))
        if kind == "fn":
            return ("fn", line, None, self.params(), self.block())
        if kind == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        raise CompileError(f"{line}: expected an expression, found '{text or kind}'")

# ------------------------------------------------------- code generator

BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod",
          "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


class Func:
    """One function being compiled: its code lines, its locals (a list of
    scopes, each a dict from name to slot) and its upvalues."""

    def __init__(self, symbol, display, params, parent):
        self.symbol, self.display, self.parent = symbol, display, parent
        self.params = params
        self.scopes = [{name: i for i, name in enumerate(params)}]
        self.nlocals = len(params)
        self.upvals = []          # (name, "local" or "upval", index in the parent)
        self.captured = set()     # slots some closure captures
        self.code = []
        self.labels = 0

    def label(self):
        self.labels += 1
        return f"L{self.labels}"

    def emit(self, *parts):
        self.code.append("    " + " ".join(str(p) for p in parts))

    def place(self, label):
        self.code.append(f"{label}:")

    def local(self, name):
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, name):
        slot = self.nlocals
        self.nlocals += 1
        self.scopes[-1][name] = slot
        return slot

    def upval(self, name):
        """The index of [name] among this function's upvalues, adding a
        descriptor when a parent function has the variable; None if none has."""
        for i, (n, _, _) in enumerate(self.upvals):
            if n == name:
                return i
        if self.parent is None or self.parent.parent is None:
            return None           # the module's main: its variables are globals
        slot = self.parent.local(name)
        if slot is not None:
            self.parent.captured.add(slot)
            self.upvals.append((name, "local", slot))
            return len(self.upvals) - 1
        index = self.parent.upval(name)
        if index is None:
            return None
        self.upvals.append((name, "upval", index))
        return len(self.upvals) - 1


class Gen:
    def __init__(self, bug=False):
        self.funcs, self.globals, self.bug = [], [], bug
        self.f = None
        self.line = 0

    def compile(self, program, filename):
        main = self.new_func("main", "<main>", [], None)
        for st in program:             # top-level names are globals, known up front
            if st[0] == "let" and st[2] not in self.globals:
                self.globals.append(st[2])
        self.f = main
        for st in program:
            self.stmt(st)
        self.f.emit("nil")
        self.f.emit("ret")
        out = [f'.module main "{filename}"']
        out += [f".global {g}" for g in self.globals]
        for fn in self.funcs:          # main first: it becomes the module's main
            header = f'.func {fn.symbol} "{fn.display}" params={len(fn.params)} locals={fn.nlocals}'
            out.append(header if fn.display else header.replace(' ""', ""))
            out += [f"    .upval {kind} {index}" for _, kind, index in fn.upvals]
            out += fn.code
            out.append(".end")
        return "\n".join(out) + "\n"

    def new_func(self, symbol, display, params, parent):
        fn = Func(f"{symbol}_{len(self.funcs)}", display, params, parent)
        self.funcs.append(fn)
        return fn

    def mark_line(self, line):
        """A line-table entry before the next instruction. Two entries at
        one offset are a verifier error, so an entry that no instruction
        follows yet (labels take no bytes) is replaced."""
        if line == self.line and self.f.code:
            return
        code = self.f.code
        k = len(code) - 1
        while k >= 0 and code[k].endswith(":"):
            k -= 1
        if k >= 0 and code[k].startswith("    .line"):
            del code[k]
        code.insert(k + 1, f"    .line {line}")
        self.line = line

    # ---- statements: each leaves the operand stack as it found it
    def stmt(self, st):
        kind, line = st[0], st[1]
        self.mark_line(line)
        f = self.f
        if kind == "let":
            self.expr(st[3])
            if f.parent is None:
                if st[2] not in self.globals:
                    self.globals.append(st[2])
                f.emit("setglobal", st[2])
            else:
                f.emit("setlocal", f.declare(st[2]))
        elif kind == "assign":
            self.expr(st[3])
            self.store(st[2], line)
        elif kind == "expr":
            self.expr(st[2])
            if not self.bug:
                f.emit("pop")          # a statement leaves nothing behind
        elif kind == "block":
            self.block(st)
        elif kind == "if":
            other, end = f.label(), f.label()
            self.expr(st[2])
            f.emit("jmpf", other)
            self.block(st[3])
            f.emit("jmp", end)
            f.place(other)
            if st[4] is not None:
                self.stmt(st[4])
            f.place(end)
        elif kind == "while":
            top, end = f.label(), f.label()
            f.place(top)
            self.expr(st[2])
            f.emit("jmpf", end)
            self.block(st[3])
            f.emit("jmp", top)
            f.place(end)
        elif kind == "return":
            self.expr(st[2])
            f.emit("ret")              # ret also drops this frame's try handlers
        elif kind == "throw":
            self.expr(st[2])
            f.emit("throw")
        elif kind == "try":
            handler, end = f.label(), f.label()
            f.emit("try", handler)
            self.block(st[2])
            f.emit("endtry")
            f.emit("jmp", end)
            f.place(handler)           # the thrown value is on the stack here
            f.scopes.append({})
            if f.parent is None:       # top level: the catch variable is a global
                if st[3] not in self.globals:
                    self.globals.append(st[3])
                f.emit("setglobal", st[3])
            else:
                f.emit("setlocal", f.declare(st[3]))
            self.block(st[4])
            f.scopes.pop()
            f.place(end)

    def block(self, st):
        f = self.f
        f.scopes.append({})
        first = f.nlocals
        for inner in st[2]:
            self.stmt(inner)
        f.scopes.pop()
        # Variables of this block that a closure captured must move off the
        # stack now, so that each pass through a loop body gets fresh ones.
        captured = [s for s in f.captured if s >= first]
        if captured:
            f.emit("close", min(captured))

    # ---- expressions: each pushes exactly one value
    def expr(self, e):
        kind, f = e[0], self.f
        if kind == "int":
            f.emit("int" if -2**31 <= e[2] < 2**31 else "const", e[2])
        elif kind == "string":
            f.emit("const", e[2])
        elif kind in ("true", "false", "nil"):
            f.emit(kind)
        elif kind == "name":
            self.load(e[2])
        elif kind == "unary":
            if e[2] == "-":
                f.emit("int", 0)
                self.expr(e[3])
                f.emit("sub")
            else:
                self.expr(e[3])
                f.emit("not")
        elif kind == "binary" and e[2] in ("&&", "||"):
            end = f.label()
            self.expr(e[3])
            f.emit("jmpfk" if e[2] == "&&" else "jmptk", end)
            self.expr(e[4])
            f.place(end)
        elif kind == "binary":
            self.expr(e[3])
            self.expr(e[4])
            f.emit(BINARY[e[2]])
        elif kind == "call":
            self.expr(e[2])            # the callee first, then the arguments
            for arg in e[3]:
                self.expr(arg)
            f.emit("call", len(e[3]))
        elif kind == "array":
            for item in e[2]:
                self.expr(item)
            f.emit("array", len(e[2]))
        elif kind == "index":
            self.expr(e[2])
            self.expr(e[3])
            f.emit("getindex")
        elif kind == "fn":
            self.function(e)

    def function(self, e):
        _, line, name, params, body = e
        outer, saved_line = self.f, self.line
        inner = self.new_func(name or "anon", name or "", params, outer)
        self.f, self.line = inner, 0
        self.mark_line(line)
        self.block(body)
        inner.emit("nil")              # falling off the end returns nil
        inner.emit("ret")
        self.f, self.line = outer, saved_line
        outer.emit("closure", inner.symbol)

    def load(self, name):
        f = self.f
        slot = f.local(name)
        if slot is not None:
            return f.emit("getlocal", slot)
        index = f.upval(name)
        if index is not None:
            return f.emit("getupval", index)
        if name in self.globals:
            return f.emit("getglobal", name)
        f.emit("getname", name)        # a built-in; pvm raises if there is none

    def store(self, name, line):
        f = self.f
        slot = f.local(name)
        if slot is not None:
            return f.emit("setlocal", slot)
        index = f.upval(name)
        if index is not None:
            return f.emit("setupval", index)
        if name in self.globals:
            return f.emit("setglobal", name)
        raise CompileError(f"{line}: assignment to undeclared variable '{name}'")


def main(argv):
    bug = "--bug" in argv
    args = [a for a in argv if a != "--bug"]
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "-o"):
        print("usage: toyc.py [--bug] PROG.toy [-o OUT.pva]", file=sys.stderr)
        return 2
    path = args[0]
    try:
        with open(path) as src:
            text = src.read()
        pva = Gen(bug).compile(Parser(lex(text)).program(), path.split("/")[-1])
    except CompileError as err:
        print(f"{path}:{err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"toyc: {err}", file=sys.stderr)
        return 1
    if len(args) == 3 and args[2] != "-":
        with open(args[2], "w") as out:
            out.write(pva)
    else:
        sys.stdout.write(pva)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
