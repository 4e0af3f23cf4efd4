"""Runs Ansible's own lineinfile/blockinfile/replace on temp files, one forked child per case (all at once).

stdin: a JSON list of {"module", "args", "content" (null: no file)}; stdout: a JSON list of
{"content" (null: no file), "changed", "failed", "msg"}. Ansible is imported once, each module
runs in a fork (its exit_json ends the process), so the cases cost milliseconds each.
"""
import json, os, runpy, sys, tempfile
import ansible.module_utils.basic  # noqa: F401 (imported once, before the forks)
import ansible.modules.lineinfile, ansible.modules.blockinfile, ansible.modules.replace  # noqa: F401

cases = json.load(sys.stdin)
work = tempfile.mkdtemp(prefix='prov-text-')
children = []
for i, case in enumerate(cases):
    path = os.path.join(work, 'f%d' % i)
    if case['content'] is not None:
        with open(path, 'wb') as f:
            f.write(case['content'].encode('utf-8'))
    argfile = os.path.join(work, 'a%d.json' % i)
    with open(argfile, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(case['args'], path=path)}, f)
    out = os.path.join(work, 'o%d.json' % i)
    pid = os.fork()
    if pid == 0:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        sys.argv = ['x', argfile]
        try:
            runpy.run_module('ansible.modules.' + case['module'], run_name='__main__')
        finally:
            sys.stdout.flush()
            os._exit(0)
    children.append((pid, path, out))
results = []
for pid, path, out in children:
    os.waitpid(pid, 0)
    with open(out) as f:
        res = json.loads(f.read() or '{"failed": true, "msg": "no output"}')
    content = None
    if os.path.exists(path):
        with open(path, 'rb') as f:
            content = f.read().decode('utf-8')
    results.append({'content': content, 'changed': bool(res.get('changed')), 'failed': bool(res.get('failed')), 'msg': res.get('msg', '')})
json.dump(results, sys.stdout)
