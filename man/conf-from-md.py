#!/usr/bin/python3
"""Render docs/CONFIG.md as the troff page brski-cloud.conf(5).

The markdown is the one source of the configuration keys; tests/check-docs.sh
re-renders it and fails when man/brski-cloud.conf.5 is out of date.
usage: conf-from-md.py CONFIG.md > brski-cloud.conf.5
"""
import re
import sys


# The markdown says it is the page's source; the page need not.
SELF_REFERENCE = 'This file is the source for brski-cloud.conf(5).'


def esc(s):
    s = s.replace('\\|', '|').replace('\\', '\\\\').replace('`', '')
    s = re.sub(r'\*\*(.*?)\*\*', r'\\fB\1\\fR', s)
    s = s.replace('-', '\\-')
    return s


def render(lines):
    out = ['.TH BRSKI-CLOUD.CONF 5 "2026-11" "brski-cloud" "File Formats"',
           '.SH NAME', 'brski-cloud.conf \\- configuration of masad and cloudregd',
           '.SH SYNOPSIS', '.B masad \\-c', '.I FILE', '.br', '.B cloudregd \\-c', '.I FILE',
           '.SH DESCRIPTION']
    para = []

    def flush():
        if para:
            out.append('.PP')
            out.append(esc(' '.join(para)))
            para.clear()

    previous = ''
    for line in lines[1:]:
        in_table = previous.startswith('|')
        previous = line
        if line.startswith('## '):
            flush()
            out.append('.SH ' + esc(line[3:]).upper())
        elif line.startswith('|'):
            flush()
            cells = [c.strip() for c in re.split(r'(?<!\\)\|', line)[1:-1]]
            # a table's first row is its header; the next one the rule
            if not in_table or set(cells[0]) <= set('-'):
                continue
            out.append('.TP')
            out.append('.B ' + esc(cells[0]))
            if len(cells) == 4:
                out.append(esc(cells[3]) + '.')
                out.append('Type: ' + esc(cells[1]) + '; default: ' + esc(cells[2]) + '.')
        elif not line.strip():
            flush()
        elif SELF_REFERENCE not in line:
            para.append(line.strip())
        else:
            para.append(line.replace(SELF_REFERENCE, '').strip())
    flush()
    out += ['.SH SEE ALSO', '.BR masad (8),', '.BR cloudregd (8),', '.BR brski (1)']
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    with open(sys.argv[1], encoding='utf-8') as f:
        sys.stdout.write(render(f.read().split('\n')))
