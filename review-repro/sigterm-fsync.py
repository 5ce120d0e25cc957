import sys,time,threading,subprocess,os,signal; sys.path.insert(0,__import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from mp import *
pol=sys.argv[1]; img='/tmp/rumpus-review-t-%s.img'%pol; sock='/tmp/rumpus-review-s-%s/rumpus.sock'%pol
if os.path.exists(img): os.unlink(img)
subprocess.run(['mke2fs','-q','-t','ext2','-b','1024',img,'32M'],check=True)
srv=subprocess.Popen(['node','dist/bin/rumpus.js','serve','--policy',pol,'--image',img,'--listen','unix://'+sock],cwd='/work/wt/review',stdout=subprocess.PIPE,stderr=subprocess.PIPE,text=True)
print(srv.stdout.readline().strip())
T=tok(sock+'.token')
acked={}; errs=[]
def worker(i):
    try:
        c=C('unix://'+sock); c.hello(T)
        r=c.call('open',{'path':b'/mnt/f%d'%i,'flags':0o101,'mode':0o644}); fd=r[2]
        n=0; chunk=bytes([65+i])*65536
        while True:
            r=c.call('write',{'fd':fd,'data':chunk})
            if r=='EOF' or r[0]!=1: errs.append((i,'write',r if r=='EOF' else r[2:])); return
            n+=r[2]
            r=c.call('fsync',{'fd':fd})
            if r=='EOF' or r[0]!=1: errs.append((i,'fsync',r if r=='EOF' else r[2:])); return
            acked[i]=n
    except Exception as e: errs.append((i,'exc',repr(e)))
ths=[threading.Thread(target=worker,args=(i,)) for i in range(4)]
for t in ths: t.start()
time.sleep(3)
srv.send_signal(signal.SIGTERM)
for t in ths: t.join(30)
try: rc=srv.wait(30)
except Exception: rc='timeout'; srv.kill()
print('rc',rc,'stderr',srv.stderr.read()[-500:])
print('acked',acked); print('errs',errs)
r=subprocess.run(['e2fsck','-fn',img],capture_output=True,text=True); print('e2fsck',r.returncode, r.stdout[-300:] if r.returncode else '')
for i in range(4):
    out=subprocess.run(['debugfs','-R','stat /f%d'%i,img],capture_output=True,text=True).stdout
    size=[l for l in out.split('\n') if 'Size:' in l]
    print(i,'acked',acked.get(i),'on disk',size[0].split('Size:')[1].split()[0] if size else None)
print('leftover', os.listdir(os.path.dirname(sock)))
