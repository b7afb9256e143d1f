// The canonical text of a function's source, for the fingerprint: the same for the code as written,
// as a TypeScript loader or bundler prints it, and as a minifier that renames identifiers and drops
// whitespace prints it. Not a parser: a tokenizer, bracket matching and the few rules of scope and
// syntax those tools change. It runs once per group at startup, but it is in every Lambda bundle,
// so it is written for size: a token is a string whose first character says its kind
// (i identifier, p punctuator, n number, s string, t template piece, r regular expression).

const words = (text: string) => new Set(text.split(' '));

const PUNCTUATORS = '>>>= ... === !== **= <<= >>= >>> &&= ||= ??= => == != <= >= && || ?? ?. ++ -- += -= *= /= %= &= |= ^= << >> **'.split(' ');
/** Words after which a `/` starts a regular expression, and a `(` groups rather than calls. */
const BEFORE_EXPRESSION = words('return typeof instanceof in of new delete void throw case do else yield await');
/** Never renamed. */
const KEYWORDS = words(
  'break case catch class const continue debugger default delete do else export extends false finally for function if import in instanceof let new null return super switch this throw true try typeof var void while with yield await async of static get set',
);
const STATEMENT_WORDS = words('return if for while const let var throw switch try do break continue');
const CONTROL = words('if for while switch catch with function');
/** Binary operators by how tightly they bind. */
const BINARY = new Map<string, number>();
'?? || && | ^ & == != === !== < > <= >= instanceof in << >> >>> + - * / % **'.split(' ').forEach((op, i) => BINARY.set(op, [1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11, 12][i] as number));
const OPENERS = words('p( p[ p{ p${');
const CLOSERS = words('p) p] p} p}$');
const ID_START = /[A-Za-z_$\u0080-\uffff\\]/;
const ID_PART = /[\w$\u0080-\uffff]/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' };

function unescapeString(body: string): string {
  return body.replace(/\\(u\{[\da-fA-F]+\}|u[\da-fA-F]{4}|x[\da-fA-F]{2}|0(?!\d)|\r\n|[\s\S])/g, (_, e: string) => {
    if (e[0] === 'u' || e[0] === 'x') return String.fromCodePoint(Number.parseInt(e.replace(/[ux{}]/g, ''), 16));
    if (e === '0') return '\0';
    return /^(\r\n|[\r\n\u2028\u2029])$/.test(e) ? '' : (ESCAPES[e] ?? e);
  });
}

function canonicalNumber(text: string): string {
  const plain = text.replace(/_/g, '');
  if (plain.endsWith('n')) return `${BigInt(plain.slice(0, -1))}n`;
  return String(/^0[0-7]+$/.test(plain) ? Number.parseInt(plain, 8) : Number(plain));
}

/** Splits source text into tokens; comments and whitespace go. Template literals become pieces around their substitutions. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  // Brace depths at which an open template substitution resumes its template.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const readTemplate = (j: number): number => {
    // From just after a backtick or a substitution's `}` to the next backtick or `${`.
    let raw = '';
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '\\') raw += text.slice(j, ++j + 1);
      else if (c === '`' || (c === '$' && text[j + 1] === '{')) {
        const value = JSON.stringify(unescapeString(raw));
        if (c === '$') {
          tokens.push(`t${value}`, 'p${');
          templates.push(++depth);
          return j + 2;
        }
        // A template without substitutions is a string.
        if (tokens[tokens.length - 1] === 'p`') tokens[tokens.length - 1] = `s${value}`;
        else tokens.push(`t${value}`, 'p`');
        return j + 1;
      } else raw += c;
    }
    return j;
  };
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1] ?? '';
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if (/\s/.test(c)) i++;
    else if (c === '/' && next === '/') i = text.indexOf('\n', i) >>> 0;
    else if (c === '/' && next === '*') i = (text.indexOf('*/', i + 2) >>> 0) + 2;
    else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      tokens.push(`s${JSON.stringify(unescapeString(text.slice(i + 1, j)))}`);
      i = j + 1;
    } else if (c === '`') {
      tokens.push('p`');
      i = readTemplate(i + 1);
    } else if (c === '}' && templates[templates.length - 1] === depth) {
      templates.pop();
      depth--;
      tokens.push('p}$');
      i = readTemplate(i + 1);
    } else if ((m = /^(0[xXoObB][\da-fA-F_]+n?|(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d[\d_]*)?n?)/.exec(rest))) {
      tokens.push(`n${canonicalNumber(m[0])}`);
      i += m[0].length;
    } else if (ID_START.test(c)) {
      let j = i + 1;
      while (j < text.length && ID_PART.test(text[j] as string)) j++;
      tokens.push(`i${text.slice(i, j)}`);
      i = j;
    } else if (c === '/' && regexAllowed(tokens[tokens.length - 1]) && (m = /^\/(\\.|\[(\\.|[^\]])*\]|[^/\\[\n])+\/[\w$]*/.exec(rest))) {
      tokens.push(`r${m[0]}`);
      i += m[0].length;
    } else {
      const punct = PUNCTUATORS.find((p) => rest.startsWith(p) && !(p === '?.' && /\d/.test(text[i + 2] ?? ''))) ?? c;
      if (punct === '{') depth++;
      else if (punct === '}') depth--;
      tokens.push(`p${punct}`);
      i += punct.length;
    }
  }
  return tokens;
}

function regexAllowed(last: string | undefined): boolean {
  if (last === undefined) return true;
  if (last[0] === 'i') return BEFORE_EXPRESSION.has(last.slice(1));
  return last[0] === 'p' && !/^p(\)|\]|\}|\+\+|--)$/.test(last);
}

interface Scope {
  readonly parent: Scope | undefined;
  readonly names: Map<string, number>;
}

const KEEP = 1;
const BIND = 2;
const REF = 3;

/**
 * The canonical text of a function's source: tokens joined by spaces, with comments, whitespace,
 * semicolons, trailing commas and redundant parentheses gone, strings and numbers spelled one way,
 * shorthand properties written out, and every name the code binds or takes from its module
 * (a helper, an import) replaced by its place of appearance. The language's globals and property
 * names stay. Renaming by a minifier and reprinting by a bundler give the same text.
 */
export function canonicalSource(text: string): string {
  const T = tokenize(text);
  const n = T.length;
  const match = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  T.forEach((t, i) => {
    if (OPENERS.has(t)) stack.push(i);
    else if (CLOSERS.has(t) && stack.length > 0) {
      const open = stack.pop() as number;
      match[open] = i;
      match[i] = open;
    }
  });
  const role = new Uint8Array(n);
  const scopeOf = new Array<Scope>(n);
  /** 1: leave out (semicolons, trailing commas, redundant parentheses); 2: a shorthand key, written out; 4: a property key. */
  const mark = new Uint8Array(n);
  const flag = (i: number, bit: number) => {
    mark[i] = (mark[i] as number) | bit;
  };
  let order = 0;

  const is = (i: number, p: string) => T[i] === `p${p}`;
  const isId = (i: number) => T[i]?.[0] === 'i';
  const word = (i: number) => (isId(i) ? (T[i] as string).slice(1) : '');
  const end = (i: number) => match[i] as number;
  const declare = (scope: Scope, i: number) => {
    if (!scope.names.has(word(i))) scope.names.set(word(i), order++);
    role[i] = BIND;
    scopeOf[i] = scope;
  };
  const child = (scope: Scope): Scope => ({ parent: scope, names: new Map() });

  /** Binds the names of a binding pattern (identifier, object or array pattern) at `i`; returns the index after it. */
  const pattern = (i: number, scope: Scope, outer: Scope): number => {
    if (isId(i)) {
      declare(scope, i);
      return i + 1;
    }
    if (!is(i, '{') && !is(i, '[')) return i + 1;
    const close = end(i);
    for (let k = i + 1; k < close; ) {
      if (is(k, ',')) k++;
      else if (is(k, '...')) k = pattern(k + 1, scope, outer);
      else {
        if (!is(i, '{')) k = pattern(k, scope, outer);
        else {
          // key: target | key = default | key | [computed]: target
          if (is(k, '[')) {
            walk(k + 1, end(k), outer);
            k = end(k) + 1;
          } else {
            role[k] = KEEP;
            flag(k, 4);
            if (!is(k + 1, ':')) {
              flag(k, 2);
              declare(scope, k);
            }
            k++;
          }
          if (is(k, ':')) k = pattern(k + 1, scope, outer);
        }
        if (is(k, '=')) k = expression(k + 1, close, outer);
      }
    }
    return close + 1;
  };

  /**
   * Where an expression starting at `i` ends: at a comma, semicolon or unmatched closer at its depth,
   * a `:` that no `?` of its own opened, or a word that starts a statement.
   */
  const expressionEnd = (i: number, limit: number): number => {
    let k = i;
    for (let ternaries = 0; k < limit; k++) {
      const t = T[k] as string;
      if (/^p([,;\])}]|\}\$)$/.test(t) || (t === 'p:' && ternaries-- === 0) || (k > i && STATEMENT_WORDS.has(word(k)))) break;
      if (t === 'p?') ternaries++;
      if (OPENERS.has(t) && end(k) > k) k = end(k);
    }
    return k;
  };

  /** Walks a default value or initializer; returns where it ended. */
  const expression = (i: number, limit: number, scope: Scope): number => {
    const stop = expressionEnd(i, limit);
    walk(i, stop, scope);
    return stop;
  };

  /** Parameters `(a, { b }, c = 1)` or a lone identifier, bound in `scope`. */
  const parameters = (open: number, scope: Scope, outer: Scope) => {
    if (!is(open, '(')) return declare(scope, open);
    for (let k = open + 1; k < end(open); ) {
      if (is(k, ',') || is(k, '...')) k++;
      else {
        k = pattern(k, scope, outer);
        if (is(k, '=')) k = expression(k + 1, end(open), scope);
      }
    }
  };

  /** A function's `(params) { body }` or `params => body` at `open`; returns the index of its last token. */
  const fn = (open: number, scope: Scope, arrow: boolean): number => {
    const inner = child(scope);
    parameters(open, inner, scope);
    const close = is(open, '(') ? end(open) : open;
    // (a) => is a =>.
    if (arrow && close === open + 2 && isId(open + 1)) mark[open] = mark[close] = 1;
    const body = close + (arrow ? 2 : 1);
    if (is(body, '{')) {
      walk(body + 1, end(body), inner);
      return end(body);
    }
    if (!arrow) return close;
    const stop = expressionEnd(body, n);
    walk(body, stop, inner);
    return stop - 1;
  };

  /** True when the `{` at `i` opens an object literal, not a block. */
  const objectLiteral = (i: number): boolean => {
    const prev = T[i - 1];
    if (prev === undefined) return false;
    if (prev[0] === 'p') return !/^p(\)|=>|\{|\}|;)$/.test(prev);
    return prev[0] === 'i' && /^i(return|typeof|in|of|yield|await|case|void)$/.test(prev);
  };

  /** Properties of the object literal at `open`. */
  const objectBody = (open: number, scope: Scope) => {
    const close = end(open);
    for (let k = open + 1; k < close; ) {
      if (is(k, ',')) {
        k++;
        continue;
      }
      if (is(k, '...')) {
        k = expression(k + 1, close, scope);
        continue;
      }
      // get/set/async/* before a method name.
      while ((/^i(get|set|async)$/.test(T[k] as string) || is(k, '*')) && !/^p[,:(}]$/.test(T[k + 1] ?? '')) k++;
      const key = k;
      if (is(k, '[')) {
        walk(k + 1, end(k), scope);
        k = end(k);
      } else if (isId(k)) {
        role[k] = KEEP;
        flag(k, 4);
      }
      k++;
      if (is(k, '(')) k = fn(k, scope, false) + 1;
      else if (is(k, ':')) k = expression(k + 1, close, scope);
      else if (isId(key)) {
        // { a } is { a: a }.
        flag(key, 2);
        role[key] = REF;
        scopeOf[key] = scope;
        if (is(k, '=')) k = expression(k + 1, close, scope);
      }
    }
  };

  /** Whether the token at `k` is a binary operator (a `+` or `-` after an operator is a sign), and how tightly it binds. */
  const binary = (k: number): number | undefined => {
    const t = T[k] ?? '';
    const p = BINARY.get(t.slice(1));
    if (p === undefined || (t[0] === 'i' && p !== 8)) return undefined;
    if ((t === 'p+' || t === 'p-') && (T[k - 1] === undefined || (T[k - 1]?.[0] === 'p' ? !/^p(\)|\]|\}|\}\$|`|\+\+|--)$/.test(T[k - 1] as string) : KEYWORDS.has(word(k - 1)) && word(k - 1) !== 'this'))) return undefined;
    return p;
  };

  /**
   * Parentheses that only group are dropped where the grammar needs none (a bundler prints the code
   * without them): when what they hold binds tighter than the operators on either side.
   */
  const groupParentheses = (open: number) => {
    const close = end(open);
    const prev = T[open - 1];
    // A call, a control statement or a function's parameters: not grouping.
    if (prev !== undefined && (prev[0] === 'i' ? !BEFORE_EXPRESSION.has(prev.slice(1)) : prev[0] !== 'p' || /^p(\)|\]|\}|\}\$|`)$/.test(prev))) return;
    // `=> ({ ... })` needs them (a brace there would open a block), and so does a function at a statement's start.
    if ((is(open + 1, '{') && (prev === undefined || prev === 'p=>')) || /^i(function|class)$/.test(T[open + 1] ?? '')) return;
    // How loosely the held expression binds: a binary operator's precedence, 0 for assignment level.
    let inner = Number.POSITIVE_INFINITY;
    for (let k = open + 1; k < close; k++) {
      const t = T[k] as string;
      if (OPENERS.has(t)) k = end(k);
      else if (t === 'p,') return;
      else {
        const p = binary(k);
        if (p !== undefined) inner = Math.min(inner, p);
        else if (/^p(\?|:|=>|.*=)$/.test(t) || t === 'iyield') inner = 0;
      }
    }
    const outside = (k: number, right: boolean): number => {
      const t = T[k];
      if (t === undefined) return 0;
      const p = binary(k);
      if (p !== undefined) return p;
      if (/^p([([,=;:)\]}]|=>|\$\{|\.\.\.|\}\$)$/.test(t) || /^i(return|case)$/.test(t)) return 0;
      if (t === 'p?') return right ? 0.5 : 0;
      // Unary operators, member access, calls, postfix operators: tighter than any binary one.
      return 99;
    };
    const left = outside(open - 1, false);
    const right = outside(close + 1, true);
    // Equal precedence on the right keeps left-to-right grouping ((a - b) - c is a - b - c), except for **.
    if (inner > left && (inner > right || (inner === right && inner !== 12))) mark[open] = mark[close] = 1;
  };

  /** Walks tokens [from, to) in `scope`, giving every identifier its role. */
  const walk = (from: number, to: number, scope: Scope): void => {
    for (let i = from; i < to; i++) {
      const t = T[i] as string;
      const w = word(i);
      if (t[0] === 'p') {
        if (t === 'p{') {
          if (objectLiteral(i)) objectBody(i, scope);
          else walk(i + 1, end(i), child(scope));
          i = end(i);
        } else if (t === 'p(' && is(end(i) + 1, '=>')) i = fn(i, scope, true);
        else if (t === 'p(') groupParentheses(i);
      } else if (t[0] !== 'i' || role[i]) {
        // Not an identifier, or one whose role is known.
      } else if (T[i - 1] === 'p.' || T[i - 1] === 'p?.') role[i] = KEEP;
      else if (is(i + 1, '=>')) i = fn(i, scope, true);
      else if (w === 'const' || w === 'let' || w === 'var') {
        role[i] = KEEP;
        let k = i + 1;
        for (;;) {
          k = pattern(k, scope, scope);
          if (is(k, '=')) k = expression(k + 1, to, scope);
          if (!is(k, ',')) break;
          k++;
        }
        i = k - 1;
      } else if (w === 'function' || w === 'class') {
        role[i] = KEEP;
        let k = i + 1;
        if (is(k, '*')) k++;
        if (isId(k) && !is(k, '(')) declare(scope, k++);
        if (w === 'function' && is(k, '(')) i = fn(k, scope, false);
      } else if (w === 'for' && (is(i + 1, '(') || (T[i + 1] === 'iawait' && is(i + 2, '(')))) {
        // The loop's own scope: its declarations and its body.
        role[i] = role[i + 1] = KEEP;
        const open = is(i + 1, '(') ? i + 1 : i + 2;
        const inner = child(scope);
        walk(open + 1, end(open), inner);
        const body = end(open) + 1;
        let stop = body;
        if (is(body, '{')) stop = end(body) + 1;
        else {
          while (stop < to && !is(stop, ';') && !CLOSERS.has(T[stop] as string)) stop = OPENERS.has(T[stop] as string) && end(stop) > stop ? end(stop) + 1 : stop + 1;
          if (is(stop, ';')) stop++;
        }
        walk(body, stop, inner);
        i = stop - 1;
      } else if (w === 'catch' && is(i + 1, '(')) {
        role[i] = KEEP;
        i = fn(i + 1, scope, false);
      } else if (KEYWORDS.has(w) || (is(i + 1, ':') && /^p[{;}]$/.test(T[i - 1] ?? ''))) role[i] = KEEP; // a keyword, or a label
      else if (is(i + 1, '(') && !CONTROL.has(w) && is(end(i + 1) + 1, '{') && (/^p[{};]$/.test(T[i - 1] ?? '') || T[i - 1] === 'istatic')) {
        // A class method: name(params) { body }.
        role[i] = KEEP;
        i = fn(i + 1, scope, false);
      } else {
        role[i] = REF;
        scopeOf[i] = scope;
      }
    }
  };

  const global: Scope = { parent: undefined, names: new Map() };
  walk(0, n, global);
  T.forEach((t, i) => {
    if (t === 'p;' || (t === 'p,' && /^p[)\]}]$/.test(T[i + 1] ?? ''))) mark[i] = 1;
  });

  const free = new Map<string, number>();
  /** A module-level name by its place of appearance; `ns.a.b` counts as one name (see below). */
  const freeName = (key: string) => {
    if (!free.has(key)) free.set(key, free.size);
    return `@${free.get(key)}`;
  };
  /** The name token `i` stands for; `member` is the chain of properties read off a module-level name right after it. */
  const nameOf = (i: number, member?: string): string => {
    const w = word(i);
    if (role[i] === BIND || role[i] === REF) {
      for (let scope: Scope | undefined = scopeOf[i]; scope; scope = scope.parent) {
        const bound = scope.names.get(w);
        if (bound !== undefined) return `$${bound}`;
      }
      // A bundler prints the global `undefined` as `void 0`; other globals keep their names (a
      // minifier never renames them); anything else free is a module-level name, by appearance.
      if (w === 'undefined') return 'void 0';
      if (w in globalThis) return w;
      return freeName(member === undefined ? w : `${w}.${member}`);
    }
    return w;
  };
  /**
   * The members read off a module-level name (`ns.a.b`): a bundler turns a namespace import's member
   * into a renamed binding of its own, so the whole chain counts as one module-level name.
   */
  const membersOfFree = (i: number): string[] => {
    if (role[i] !== REF && role[i] !== BIND) return [];
    const w = word(i);
    for (let scope: Scope | undefined = scopeOf[i]; scope; scope = scope.parent) if (scope.names.has(w)) return [];
    if (w === 'undefined' || w in globalThis) return [];
    const members: string[] = [];
    for (let k = i + 1; T[k] === 'p.' && isId(k + 1); k += 2) members.push(word(k + 1));
    return members;
  };

  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = T[i] as string;
    if ((mark[i] as number) & 1) continue;
    if ((mark[i] as number) & 2) out.push(JSON.stringify(word(i)), ':');
    if (t[0] !== 'i') {
      out.push(t.slice(1));
      continue;
    }
    // Property keys are spelled as strings, so `{ a: 1 }` and `{ "a": 1 }` are one text.
    if (((mark[i] as number) & 6) === 4) {
      out.push(JSON.stringify(word(i)));
      continue;
    }
    const members = membersOfFree(i);
    out.push(nameOf(i, members.length > 0 ? members.join('.') : undefined));
    i += 2 * members.length;
  }
  return out.join(' ');
}
