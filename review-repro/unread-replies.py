# Review repro: each connection that never reads its replies makes the server hold ~450 MB
# (the throttle bounds one connection, nothing bounds the sum: maxConnections 256 x ~450 MB).
# Usage: python3 unread-replies.py unix:///PATH/rumpus.sock TOKEN SERVER_PID [CONNECTIONS=8]
import sys, time, socket
sys.path.insert(0, __import__('os').path.dirname(__file__))
from mp import C
url, token, pid = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 8
rss = lambda: open(f'/proc/{pid}/status').read().split('VmRSS:')[1].split('\n')[0].strip()
c = C(url); c.hello(token)
c.call('open', {'path': b'/tmp/big', 'flags': 0o102, 'mode': 0o644}); c.call('ftruncate', {'fd': 0, 'length': 16 << 20})
print('server RSS before', rss())
held = []
for k in range(n):
    x = C(url); x.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); x.hello(token)
    x.send([0, 1, 'sys', 'open', {'path': b'/tmp/big', 'flags': 0, 'mode': 0}]); x.recv()
    for i in range(2, 200):
        try: x.send([0, i, 'sys', 'pread', {'fd': 0, 'length': 16 << 20, 'offset': 0}])
        except OSError: break
    held.append(x); time.sleep(1.5)
    print(f'{k + 1} unread connections: server RSS {rss()}', flush=True)
for x in held: x.s.close()
