#!/usr/bin/python3
# secrets.py — what the keyring tests do to the Secret Service behind
# hwagg's back, over D-Bus (python3-dbus; run with /usr/bin/python3).
#
#   secrets.py create-collection LABEL PASSWORD  new collection, prints its path
#   secrets.py lock COLLECTION                   lock (alias or path); no prompt
#   secrets.py locked COLLECTION                 prints 1 if locked, else 0
#   secrets.py garble SLOT CLASS [ID]            overwrite the secret of every
#                                                hwagg item of SLOT with CLASS
#                                                (private-key, public-key, ...)
#                                                and CKA_ID (hex), prints how many
#   secrets.py count SLOT [CLASS]                hwagg items of SLOT (all collections)
#   secrets.py items SLOT CLASS                  each hwagg item of SLOT and CLASS as a
#                                                line of JSON: its attributes, label and
#                                                secret (hex)
#   secrets.py foreign-store                     a foreign item in the default collection,
#                                                prints its object path
#   secrets.py foreign-snapshot FILE             its secret, attributes, label and
#                                                times, to FILE
#   secrets.py foreign-check FILE                prints "unchanged" if it still matches
import json
import sys
import dbus

NAME = 'org.freedesktop.secrets'
SERVICE = 'org.freedesktop.Secret.Service'
COLLECTION = 'org.freedesktop.Secret.Collection'
ITEM = 'org.freedesktop.Secret.Item'
PROPS = 'org.freedesktop.DBus.Properties'
INTERNAL = 'org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface'
# With a schema, as libsecret clients store it: gnome-keyring adds its own
# default xdg:schema to a schema-less item whenever it re-reads the
# collection (after concurrent writes by anyone), which would look like a
# change that nobody made.
FOREIGN_ATTRS = {'xdg:schema': 'org.example.Foreign', 'application': 'hwagg-test-foreign',
                 'user': 'someone'}
FOREIGN_SECRET = b'foreign secret \x00\x01\x02 not for hwagg'
FOREIGN_LABEL = 'someone else\'s password'

bus = dbus.SessionBus()
svc_obj = bus.get_object(NAME, '/org/freedesktop/secrets')
svc = dbus.Interface(svc_obj, SERVICE)
_, session = svc.OpenSession('plain', dbus.String('', variant_level=1))


def secret(data, ctype='application/octet-stream'):
    return (session, dbus.ByteArray(b''), dbus.ByteArray(data), ctype)


def collection_path(name):
    if name.startswith('/'):
        return name
    path = svc.ReadAlias(name)
    if path == '/':
        sys.exit('no collection with alias %s' % name)
    return path


def prop(path, iface, name):
    return dbus.Interface(bus.get_object(NAME, path), PROPS).Get(iface, name)


def search(attrs):
    unlocked, locked = svc.SearchItems(dbus.Dictionary(attrs, signature='ss'))
    return list(unlocked) + list(locked)


def main(argv):
    cmd = argv[1]
    if cmd == 'create-collection':
        internal = dbus.Interface(svc_obj, INTERNAL)
        props = {'org.freedesktop.Secret.Collection.Label': argv[2]}
        print(internal.CreateWithMasterPassword(props, secret(argv[3].encode(), 'text/plain')))
    elif cmd == 'lock':
        svc.Lock([collection_path(argv[2])])
    elif cmd == 'locked':
        print(1 if prop(collection_path(argv[2]), COLLECTION, 'Locked') else 0)
    elif cmd == 'garble':
        attrs = {'hwagg-slot': argv[2], 'hwagg-class': argv[3]}
        if len(argv) > 4:
            attrs['hwagg-id'] = argv[4]
        paths = search(attrs)
        for p in paths:
            dbus.Interface(bus.get_object(NAME, p), ITEM).SetSecret(secret(b'not a hwagg object'))
        print(len(paths))
    elif cmd == 'count':
        attrs = {'hwagg-slot': argv[2]}
        if len(argv) > 3:
            attrs['hwagg-class'] = argv[3]
        print(len(search(attrs)))
    elif cmd == 'items':
        for p in search({'hwagg-slot': argv[2], 'hwagg-class': argv[3]}):
            item = dbus.Interface(bus.get_object(NAME, p), ITEM)
            print(json.dumps({'attributes': {str(k): str(v) for k, v in prop(p, ITEM, 'Attributes').items()},
                              'label': str(prop(p, ITEM, 'Label')),
                              'secret': bytes(item.GetSecret(session)[2]).hex()}))
    elif cmd == 'foreign-store':
        coll = dbus.Interface(bus.get_object(NAME, collection_path('default')), COLLECTION)
        props = {ITEM + '.Label': FOREIGN_LABEL,
                 ITEM + '.Attributes': dbus.Dictionary(FOREIGN_ATTRS, signature='ss')}
        print(coll.CreateItem(props, secret(FOREIGN_SECRET), True)[0])
    elif cmd in ('foreign-snapshot', 'foreign-check'):
        paths = search(FOREIGN_ATTRS)
        if len(paths) != 1:
            sys.exit('expected one foreign item, found %d' % len(paths))
        item = dbus.Interface(bus.get_object(NAME, paths[0]), ITEM)
        now = {'path': str(paths[0]),
               'secret': bytes(item.GetSecret(session)[2]).hex(),
               'attributes': {str(k): str(v) for k, v in prop(paths[0], ITEM, 'Attributes').items()},
               'label': str(prop(paths[0], ITEM, 'Label')),
               'created': int(prop(paths[0], ITEM, 'Created')),
               'modified': int(prop(paths[0], ITEM, 'Modified'))}
        if cmd == 'foreign-snapshot':
            with open(argv[2], 'w') as f:
                json.dump(now, f)
            return
        with open(argv[2]) as f:
            then = json.load(f)
        if now != then:
            sys.exit('foreign item changed:\n was %r\n now %r' % (then, now))
        print('unchanged')
    else:
        sys.exit('unknown command ' + cmd)


main(sys.argv)
