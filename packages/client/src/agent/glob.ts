// filePattern: as in the Kinesis Agent (SourceFile), a literal directory and a glob on the file
// name, in Java's glob syntax (java.nio.file.FileSystem#getPathMatcher): `*` and `?` within the
// name, `[abc]`, `[a-z]`, `[!abc]`, `{alt1,alt2}` and `\` to escape.
import { basename, dirname, isAbsolute, resolve } from 'node:path';

export interface FilePattern {
  readonly directory: string;
  readonly glob: string;
  readonly matcher: RegExp;
  /** "directory/glob", as the agent prints it and as flow ids contain it. */
  readonly display: string;
}

export function parseFilePattern(pattern: string, baseDir: string): FilePattern {
  if (pattern === '' || pattern.endsWith('/')) throw new RangeError('the file name component is empty');
  const full = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
  const directory = dirname(full);
  if (/[*?[\]{}]/.test(directory)) throw new RangeError('wildcards are allowed in the file name only, not in the directory');
  const glob = basename(full);
  return { directory, glob, matcher: globToRegExp(glob), display: `${directory}/${glob}` };
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  let inGroup = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    switch (c) {
      case '\\': {
        const next = glob[++i];
        if (next === undefined) throw new RangeError('the glob ends with an escape character');
        re += escapeRegExp(next);
        break;
      }
      case '*':
        re += '[^/]*';
        break;
      case '?':
        re += '[^/]';
        break;
      case '[': {
        const close = glob.indexOf(']', i + 2);
        if (close < 0) throw new RangeError('a "[" in the glob has no matching "]"');
        let body = glob.slice(i + 1, close);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (x) => `\\${x}`)}]`;
        i = close;
        break;
      }
      case '{':
        if (inGroup) throw new RangeError('groups ("{...}") in the glob cannot nest');
        inGroup = true;
        re += '(?:';
        break;
      case '}':
        if (!inGroup) throw new RangeError('a "}" in the glob has no matching "{"');
        inGroup = false;
        re += ')';
        break;
      case ',':
        re += inGroup ? '|' : ',';
        break;
      default:
        re += escapeRegExp(c);
    }
  }
  if (inGroup) throw new RangeError('a "{" in the glob has no matching "}"');
  return new RegExp(`^${re}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** The agent never tails compressed files (release 1.1 notes; SourceFile.validateFile). */
export function isIgnoredFile(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.endsWith('.gz') || lower.endsWith('.bz2') || lower.endsWith('.zip');
}
