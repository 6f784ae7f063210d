#!/usr/bin/env python3
"""False and true "shift" rates of a total-variation threshold on label distributions like Synth's LaMP_2M users
(15 kinds, favourites 0.4/0.3/0.2/0.1 of 90% of items, 2nd and 4th favourites relabelled, 5% noise; the planted
shift relabels the 1st and 3rd instead). Reproduces the table behind oppu.ingest.regime-margin in TRAINING.md:
    python3 tools/shift_false_positives.py
"""
import random

K = 15  # kinds (= labels)
def pref(r):
    fav=r.sample(range(K),4); lab=list(range(K))
    lab[fav[1]]=r.choice([x for x in range(K) if x!=fav[1]]); lab[fav[3]]=r.choice([x for x in range(K) if x!=fav[3]])
    return fav,lab
def shift(r,p):
    fav,lab=p; lab=lab[:]; lab[fav[1]]=fav[1]; lab[fav[3]]=fav[3]
    lab[fav[0]]=r.choice([x for x in range(K) if x!=fav[0]]); lab[fav[2]]=r.choice([x for x in range(K) if x!=fav[2]])
    return fav,lab
W=[.4,.3,.2,.1]
def item(r,p):
    fav,lab=p; u=r.random()
    if u<.1: k=r.randrange(K)
    else:
        acc=.1; k=fav[3]
        for j in range(4):
            acc+=.9*W[j]
            if u<acc: k=fav[j]; break
    l=lab[k]
    if r.random()<.05: l=r.choice([x for x in range(K) if x!=l])
    return l
def dist(xs):
    d={}
    for x in xs: d[x]=d.get(x,0)+1/len(xs)
    return d
def tvd(a,b):
    return sum(abs(a.get(k,0)-b.get(k,0)) for k in set(a)|set(b))/2
r=random.Random(1)
for n_est in [5,10,30]:
  for n in [5,9,20]:
    fp=0;tp=0;T=2000
    fps={t:0 for t in [0.4,0.5,0.6]}; tps={t:0 for t in [0.4,0.5,0.6]}
    for _ in range(T):
        p=pref(r); est=[item(r,p) for _ in range(n_est)]
        win=[item(r,p) for _ in range(n)]
        q=shift(r,p); win2=[item(r,q) for _ in range(n)]
        a=tvd(dist(win),dist(est)); b=tvd(dist(win2),dist(est))
        for t in fps:
            fps[t]+= a>=t; tps[t]+= b>=t
    print(f"est {n_est:3d} window {n:2d}: " + "  ".join(f"thr {t}: FP {fps[t]/T:.2f} TP {tps[t]/T:.2f}" for t in fps))
