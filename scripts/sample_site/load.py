import re


def load(path="/work/shared/data/ner/ANERCorp_CamelLab_train.txt"):
    sents=[];cur=[]
    for line in open(path,encoding="utf-8"):
        line=line.rstrip("\n")
        if not line.strip():
            if cur: sents.append(cur); cur=[]
            continue
        parts=line.rsplit(" ",1)
        tok,tag=(parts[0],"O") if len(parts)==1 else parts
        cur.append((tok,tag))
    if cur: sents.append(cur)
    return sents
NOSPACE_BEFORE=set("،,.:؛؟!)]}»”%")
NOSPACE_AFTER=set("([{«“")
class Detok:
    def __init__(self): self.quote_open=False
    def __call__(self,tokens):
        parts=[];glue_next=False
        toks=[]
        for t in tokens:
            if t=="'" and toks and toks[-1]=="''": continue
            toks.append("''" if (t=="'" and toks is not None and False) else t)
        merged=[]
        i=0
        while i<len(tokens):
            if tokens[i]=="'" and i+1<len(tokens) and tokens[i+1]=="'":
                merged.append('"'); i+=2; continue
            merged.append(tokens[i]); i+=1
        for t in merged:
            if t=="''": t='"'
            if t in ('"',"'"):
                if not self.quote_open:
                    parts.append((" ", t)); self.quote_open=True; glue_next=True
                else:
                    parts.append(("", t)); self.quote_open=False; glue_next=False
                continue
            if not parts or glue_next or t in NOSPACE_BEFORE or t[0] in ")»”": sep=""
            else: sep=" "
            parts.append((sep,t))
            glue_next = t in NOSPACE_AFTER
        out="".join(s+t for s,t in parts).strip()
        out=re.sub(r"\s+([،.:؛؟!,])",r"\1",out)
        return out
def paragraphs(sents,a,b,sizes=(2,1,3,2,1,2,3)):
    d=Detok(); paras=[]; cur=[]; k=0
    for s in sents[a:b+1]:
        cur.append(d([t for t,g in s]))
        if len(cur)>=sizes[k%len(sizes)] and not d.quote_open and not cur[-1].endswith("..."):
            paras.append(" ".join(cur)); cur=[]; k+=1
    if cur: paras.append(" ".join(cur))
    return paras
